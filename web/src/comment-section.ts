// Comments under a video: newest or top first, one level of replies, like, edit and delete. All
// text is rendered as text, each comment in its own dir="auto" element.
import { api } from './api.ts';
import type { CommentBody } from './api-types.ts';
import { field, fill, h, statusLine } from './dom.ts';
import { ago } from './format.ts';
import { session } from './session.ts';

export function commentSection(vodId: string, opts: { canModerate: boolean }): HTMLElement {
  const base = `/api/v1/vods/${encodeURIComponent(vodId)}/comments`;
  const user = session.user();
  const list = h('ol', { class: 'plain-list comments', 'aria-label': 'Comments' });
  const more = h('button', { type: 'button', hidden: true }, 'More comments');
  const status = statusLine();
  const sort = h('select', { 'aria-label': 'Sort comments' }, h('option', { value: 'newest' }, 'Newest first'), h('option', { value: 'top' }, 'Top comments'));
  let cursor: string | null = null;

  const composer = (parentId: string | null, onDone: (c: CommentBody) => void, label = 'Add a comment') => {
    const text = h('textarea', { rows: 2, maxlength: 2000, required: true });
    const form = h('form', { class: 'comment-form' }, field(label, text), h('button', { type: 'submit', class: 'primary' }, parentId ? 'Reply' : 'Comment'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const comment = await api<CommentBody>(base, { method: 'POST', auth: 'required', body: { text: text.value, ...(parentId ? { parentId } : {}) } });
        text.value = '';
        status.textContent = parentId ? 'Reply posted.' : 'Comment posted.';
        onDone(comment);
      } catch (err) {
        status.textContent = (err as Error).message;
      }
    });
    return form;
  };

  const item = (c: CommentBody): HTMLElement => {
    const likeBtn = h('button', { type: 'button', class: 'like', 'aria-pressed': String(c.liked) });
    const showLike = () => {
      likeBtn.textContent = `${c.liked ? 'Liked' : 'Like'} (${c.likeCount})`;
      likeBtn.setAttribute('aria-pressed', String(c.liked));
    };
    showLike();
    likeBtn.disabled = !user;
    likeBtn.addEventListener('click', async () => {
      try {
        const body = await api<{ liked: boolean; likeCount: number }>(`${base}/${c.id}/like`, { method: c.liked ? 'DELETE' : 'PUT', auth: 'required' });
        c.liked = body.liked;
        c.likeCount = body.likeCount;
        showLike();
      } catch (err) {
        status.textContent = (err as Error).message;
      }
    });
    const textEl = h('p', { class: 'comment-text', dir: 'auto' }, c.text);
    const meta = h('p', { class: 'muted small' }, h('strong', {}, c.author.username), ` · ${ago(c.createdAt)}`, c.editedAt ? ' · edited' : '');
    const actions = h('div', { class: 'row wrap comment-actions' }, likeBtn);
    const replies = h('ol', { class: 'plain-list replies' });
    const li = h('li', { class: 'comment', 'data-comment': c.id }, meta, textEl, actions, replies);
    const mine = user && user.username === c.author.username;
    if (!c.parentId && user) {
      const replyBtn = h('button', { type: 'button' }, 'Reply');
      replyBtn.addEventListener('click', () => {
        const form = composer(c.id, (reply) => {
          replies.append(item(reply));
          form.remove();
        }, `Reply to ${c.author.username}`);
        li.insertBefore(form, replies);
        form.querySelector('textarea')?.focus();
      });
      actions.append(replyBtn);
    }
    if (!c.parentId && c.replyCount > 0) {
      const show = h('button', { type: 'button' }, `Show ${c.replyCount} ${c.replyCount === 1 ? 'reply' : 'replies'}`);
      show.addEventListener('click', async () => {
        const body = await api<{ comments: CommentBody[] }>(`${base}/${c.id}/replies`, { auth: 'optional' });
        fill(replies, ...body.comments.map(item));
        show.remove();
      });
      actions.append(show);
    }
    if (mine) {
      const edit = h('button', { type: 'button' }, 'Edit');
      edit.addEventListener('click', async () => {
        const next = window.prompt('Edit your comment', c.text);
        if (next === null) return;
        try {
          const body = await api<CommentBody>(`${base}/${c.id}`, { method: 'PATCH', auth: 'required', body: { text: next } });
          textEl.textContent = body.text;
        } catch (err) {
          status.textContent = (err as Error).message;
        }
      });
      actions.append(edit);
    }
    if (mine || opts.canModerate) {
      const del = h('button', { type: 'button', class: 'danger' }, 'Delete');
      del.addEventListener('click', async () => {
        try {
          await api(`${base}/${c.id}`, { method: 'DELETE', auth: 'required' });
          li.remove();
          status.textContent = 'Comment deleted.';
        } catch (err) {
          status.textContent = (err as Error).message;
        }
      });
      actions.append(del);
    }
    return li;
  };

  const load = async (reset: boolean) => {
    if (reset) cursor = null;
    const query = new URLSearchParams({ sort: sort.value, limit: '20', ...(cursor ? { cursor } : {}) });
    const body = await api<{ comments: CommentBody[]; nextCursor: string | null }>(`${base}?${query}`, { auth: 'optional' });
    if (reset) fill(list, ...body.comments.map(item));
    else list.append(...body.comments.map(item));
    if (reset && body.comments.length === 0) fill(list, h('li', { class: 'empty' }, 'No comments yet.'));
    cursor = body.nextCursor;
    more.hidden = cursor === null;
  };
  sort.addEventListener('change', () => void load(true));
  more.addEventListener('click', () => void load(false));
  void load(true).catch((err) => (status.textContent = (err as Error).message));

  return h(
    'section',
    { class: 'card comments-section', 'aria-labelledby': 'comments-h' },
    h('div', { class: 'row spread' }, h('h2', { id: 'comments-h' }, 'Comments'), sort),
    user
      ? composer(null, (c) => {
          list.querySelector('.empty')?.remove();
          list.prepend(item(c));
        })
      : h('p', {}, h('a', { href: `/signin?next=${encodeURIComponent(location.pathname)}` }, 'Sign in'), ' to comment.'),
    status,
    list,
    more,
  );
}
