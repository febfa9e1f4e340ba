// Forgotten password (ask for a link), reset (the emailed link: /reset-password#token=…) and email
// verification (/verify-email#token=…). The token rides in the URL fragment, which browsers never
// send to a server or in a Referer; the page takes it out of the address bar before using it.
import { api, ApiError } from '../api.ts';
import { field, fill, h, setPageTitle, statusLine } from '../dom.ts';
import { session } from '../session.ts';

function takeToken(): string | null {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (location.hash) history.replaceState(null, '', location.pathname);
  return token && /^[A-Za-z0-9_-]{20,128}$/.test(token) ? token : null;
}

export function forgotPasswordPage(main: HTMLElement): void {
  setPageTitle('Forgot your password');
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'email', required: true, maxlength: 254 });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Send me a link');
  const status = statusLine();
  const form = h('form', { class: 'card narrow' }, field('Email', email, 'The address of your account. The link works once, for 30 minutes.'), status, submit);
  fill(main, h('h1', {}, 'Forgot your password'), form, h('p', {}, h('a', { href: '/signin' }, 'Back to sign in')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    try {
      const res = await api<{ message: string }>('/api/v1/auth/password-reset', { method: 'POST', body: { email: email.value.trim() } });
      status.textContent = res.message;
    } catch (err) {
      status.textContent = err instanceof ApiError ? err.message : 'Something went wrong; try again.';
      submit.disabled = false;
    }
  });
  email.focus();
}

export function resetPasswordPage(main: HTMLElement): void {
  setPageTitle('Choose a new password');
  const token = takeToken();
  if (!token) {
    fill(main, h('h1', {}, 'Choose a new password'), h('p', { role: 'alert' }, 'This page needs the link from the email.'), h('p', {}, h('a', { href: '/forgot-password' }, 'Ask for a new link')));
    return;
  }
  const password = h('input', { name: 'new-password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8, maxlength: 256 });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Set new password');
  const status = statusLine();
  const form = h('form', { class: 'card narrow' }, field('New password', password, 'At least 8 characters. Every device signed in to your account will be signed out.'), status, submit);
  fill(main, h('h1', {}, 'Choose a new password'), form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    try {
      await api('/api/v1/auth/password-reset/confirm', { method: 'POST', body: { token, newPassword: password.value } });
      session.clear();
      fill(main, h('h1', {}, 'Password changed'), h('p', { role: 'status' }, 'Your new password is set. Sign in with it.'), h('p', {}, h('a', { href: '/signin' }, 'Sign in')));
    } catch (err) {
      status.textContent = err instanceof ApiError ? err.message : 'Something went wrong; try again.';
      if (err instanceof ApiError && err.code === 'LINK_INVALID') form.append(h('p', {}, h('a', { href: '/forgot-password' }, 'Ask for a new link')));
      else submit.disabled = false;
    }
  });
  password.focus();
}

export async function verifyEmailPage(main: HTMLElement): Promise<void> {
  setPageTitle('Confirm your email');
  const token = takeToken();
  const status = statusLine();
  fill(main, h('h1', {}, 'Confirm your email'), status);
  if (!token) {
    status.textContent = 'This page needs the link from the email.';
    return;
  }
  try {
    await api('/api/v1/auth/verify-email', { method: 'POST', body: { token } });
    status.textContent = 'Your email address is confirmed: you can stream now.';
    main.append(h('p', {}, h('a', { href: '/dashboard' }, 'Go to your dashboard')));
  } catch (err) {
    status.textContent = err instanceof ApiError ? err.message : 'Something went wrong; try again.';
  }
}
