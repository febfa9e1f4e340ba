// Small widgets several dashboard sections share: a confirmation dialog and a copy button.
import { h } from './dom.ts';

/** A modal <dialog> (focus is trapped and Escape cancels, by the browser); resolves true on confirm. */
export function confirmDialog(title: string, message: string, confirmLabel: string): Promise<boolean> {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'submit', value: 'ok', class: 'danger' }, confirmLabel);
    const cancel = h('button', { type: 'submit', value: 'cancel', autofocus: true }, 'Cancel');
    const dialog = h('dialog', { 'aria-labelledby': 'dlg-title' }, h('form', { method: 'dialog' }, h('h2', { id: 'dlg-title' }, title), h('p', {}, message), h('div', { class: 'row end' }, cancel, ok)));
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Copies text; falls back to a selection for pages not served over HTTPS (no Clipboard API). */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h('textarea', { class: 'sr-only', 'aria-hidden': 'true' });
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}

export function copyButton(label: string, text: () => string, status: HTMLElement): HTMLButtonElement {
  return h('button', {
    type: 'button',
    onclick: async () => {
      status.textContent = (await copyText(text())) ? `${label} copied.` : `Could not copy; select the text and copy it yourself.`;
    },
  }, `Copy ${label.toLowerCase()}`);
}
