import { fill, h, setPageTitle } from '../dom.ts';

export function notFound(main: HTMLElement, what = 'page'): void {
  setPageTitle('Not found');
  fill(main, h('h1', {}, `No such ${what}`), h('p', {}, h('a', { href: '/' }, 'Back to the home page')));
}
