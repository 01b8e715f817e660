// Shows exactly what is about to leave the device and waits for the user's answer.

import { AbortedError } from '../../core/errors.ts';
import type { Transmission } from '../../core/types.ts';

export interface ConfirmElements {
  dialog: HTMLDialogElement;
  host: HTMLElement;
  url: HTMLElement;
  body: HTMLElement;
  send: HTMLButtonElement;
  refuse: HTMLButtonElement;
}

export function confirmTransmission(el: ConfirmElements, t: Transmission, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.reject(new AbortedError());
  el.host.textContent = t.host;
  el.url.textContent = t.url;
  el.body.textContent = t.body;
  el.dialog.showModal();
  return new Promise<boolean>((resolve, reject) => {
    const done = (answer: boolean | Error) => {
      el.send.removeEventListener('click', onSend);
      el.refuse.removeEventListener('click', onRefuse);
      el.dialog.removeEventListener('cancel', onRefuse);
      signal.removeEventListener('abort', onAbort);
      if (el.dialog.open) el.dialog.close();
      if (answer instanceof Error) reject(answer);
      else resolve(answer);
    };
    const onSend = () => done(true);
    const onRefuse = () => done(false);
    const onAbort = () => done(new AbortedError());
    el.send.addEventListener('click', onSend);
    el.refuse.addEventListener('click', onRefuse);
    el.dialog.addEventListener('cancel', onRefuse);
    signal.addEventListener('abort', onAbort);
  });
}
