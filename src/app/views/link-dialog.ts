// Asks whether to follow a link that would send data to, or fetch models from, new hosts. Closing the
// dialog any other way (Escape) keeps the user's own settings.

import { h } from '../dom.ts';
import { describeRoles, type Destination } from '../link-guard.ts';

export interface LinkDialogElements {
  dialog: HTMLDialogElement;
  hosts: HTMLElement;
  accept: HTMLButtonElement;
  decline: HTMLButtonElement;
}

export function askAboutLink(el: LinkDialogElements, hosts: readonly Destination[]): Promise<boolean> {
  el.hosts.replaceChildren(...hosts.map((d) => h('li', { 'data-origin': d.origin }, h('strong', {}, d.host), ` — ${describeRoles(d.roles)}`)));
  el.dialog.showModal();
  return new Promise<boolean>((resolve) => {
    const done = (answer: boolean) => {
      el.accept.removeEventListener('click', onAccept);
      el.decline.removeEventListener('click', onDecline);
      el.dialog.removeEventListener('cancel', onDecline);
      if (el.dialog.open) el.dialog.close();
      resolve(answer);
    };
    const onAccept = () => done(true);
    const onDecline = () => done(false);
    el.accept.addEventListener('click', onAccept);
    el.decline.addEventListener('click', onDecline);
    el.dialog.addEventListener('cancel', onDecline);
  });
}
