// Sign in and sign up. On success the session is stored and the page goes where it was asked
// to (?next=, same-site paths only) or to the dashboard.
import { api, ApiError } from '../api.ts';
import { field, fill, h, setPageTitle } from '../dom.ts';
import { session, type SessionBody } from '../session.ts';

function nextPath(): string {
  const next = new URLSearchParams(location.search).get('next') ?? '';
  return /^\/(?!\/)[\w\-/]*$/.test(next) ? next : '/dashboard';
}

export function authPage(main: HTMLElement, mode: 'signin' | 'signup'): void {
  const signup = mode === 'signup';
  setPageTitle(signup ? 'Sign up' : 'Sign in');
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, ...(signup ? { pattern: '[A-Za-z0-9_]{3,25}', maxlength: 25 } : {}) });
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'email', required: true, maxlength: 254 });
  const password = h('input', { name: 'password', type: 'password', autocomplete: signup ? 'new-password' : 'current-password', required: true, ...(signup ? { minlength: 8 } : {}) });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary' }, signup ? 'Create account' : 'Sign in');
  const form = h(
    'form',
    { class: 'card narrow', novalidate: false },
    field('Username', username, signup ? '3–25 letters, digits or underscores. It is also your channel’s address.' : undefined),
    signup ? field('Email', email) : null,
    field('Password', password, signup ? 'At least 8 characters.' : undefined),
    error,
    submit,
  );
  const other = signup
    ? h('p', {}, 'Already have an account? ', h('a', { href: `/signin${location.search}` }, 'Sign in'))
    : h('p', {}, 'New here? ', h('a', { href: `/signup${location.search}` }, 'Create an account'), ' · ', h('a', { href: '/forgot-password' }, 'Forgot your password?'));
  // An invite link is /signup?invite=<code>.
  const invite = new URLSearchParams(location.search).get('invite');
  const inviteCode = invite && /^[A-Za-z0-9_-]{1,128}$/.test(invite) ? invite : undefined;
  fill(main, h('h1', {}, signup ? 'Create your account' : 'Sign in'), form, other);
  if (signup) {
    void api<{ name: string; registration: string }>('/api/v1/instance')
      .then((instance) => {
        const note = { closed: 'This instance is not accepting new accounts.', invite: inviteCode ? 'You were invited: welcome.' : 'Signing up here needs an invite link.', approval: 'An admin approves new accounts before they can sign in.', open: '' }[instance.registration] ?? '';
        if (note) form.prepend(h('p', { class: 'muted' }, note));
      })
      .catch(() => undefined);
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    try {
      const body = signup
        ? await api<SessionBody | { pending: true; message: string }>('/api/v1/auth/register', { method: 'POST', body: { username: username.value.trim(), email: email.value.trim(), password: password.value, ...(inviteCode ? { inviteCode } : {}) } })
        : await api<SessionBody>('/api/v1/auth/login', { method: 'POST', body: { username: username.value.trim(), password: password.value } });
      if ('pending' in body) {
        fill(main, h('h1', {}, 'Almost there'), h('p', { role: 'status' }, body.message));
        return;
      }
      session.save(body);
      location.assign(nextPath());
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.message : 'Something went wrong; try again.';
      submit.disabled = false;
      (err instanceof ApiError && err.code === 'EMAIL_TAKEN' ? email : username).focus();
    }
  });
  username.focus();
}
