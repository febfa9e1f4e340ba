// Each room declares the tables it uses and receives a Kysely typed to just those. kysely's database
// type is invariant, so a view over fewer tables is a cast; this one compiles only when the whole
// schema has every declared table with the same row type.
import type { Kysely } from 'kysely';

export function narrow<Whole>(db: Kysely<Whole>): { to<Part>(...check: Whole extends Part ? [] : [never]): Kysely<Part> } {
  return { to: <Part>() => db as unknown as Kysely<Part> };
}
