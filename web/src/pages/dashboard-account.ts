// The dashboard's account section: a reminder to confirm the email address (streaming waits for
// it when the instance sends mail) and the password change, which signs out every other device.
import { api, ApiError } from '../api.ts';
import { field, h, statusLine } from '../dom.ts';

export async function accountSection(): Promise<HTMLElement> {
  const me = await api<{ emailVerified: boolean; email: string }>('/api/v1/auth/me', { auth: 'required' });
  const status = statusLine();
  const current = h('input', { type: 'password', autocomplete: 'current-password', required: true, maxlength: 256 });
  const next = h('input', { type: 'password', autocomplete: 'new-password', required: true, minlength: 8, maxlength: 256 });
  const form = h('form', { class: 'row wrap' }, field('Current password', current), field('New password', next, 'At least 8 characters.'), h('button', { type: 'submit' }, 'Change password'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('/api/v1/auth/password', { method: 'POST', auth: 'required', body: { currentPassword: current.value, newPassword: next.value } });
      current.value = next.value = '';
      status.textContent = 'Password changed. Your other devices are signed out.';
    } catch (err) {
      status.textContent = err instanceof ApiError ? err.message : 'Something went wrong; try again.';
    }
  });
  const verify = me.emailVerified
    ? null
    : h(
        'p',
        { role: 'alert' },
        `Confirm your email address (${me.email}) to start streaming: follow the link we sent you. `,
        h('button', {
          type: 'button',
          onclick: async () => {
            try {
              const res = await api<{ message: string }>('/api/v1/auth/verify-email/resend', { method: 'POST', auth: 'required' });
              status.textContent = res.message;
            } catch (err) {
              status.textContent = (err as Error).message;
            }
          },
        }, 'Send the link again'),
      );
  return h('section', { class: 'card', 'aria-labelledby': 'acct-h' }, h('h2', { id: 'acct-h' }, 'Your account'), verify, form, status);
}
