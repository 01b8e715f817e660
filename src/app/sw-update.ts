// Registers the service worker and tells the user when a new version of the page is ready. A new build's
// worker waits (see service-worker.ts) until no page of the old build is open, or until the user presses
// "Reload" in #update-banner: then it takes over and this page reloads into the new version.

export interface UpdateBannerElements {
  banner: HTMLElement;
  reload: HTMLButtonElement;
}

export async function registerServiceWorker(container: ServiceWorkerContainer, ui: UpdateBannerElements, scriptUrl = './sw.js'): Promise<void> {
  // On a first visit the worker claims this page once installed: that is not an update.
  let hadController = container.controller !== null;
  let reloading = false;
  const show = () => {
    ui.banner.hidden = false;
  };
  container.addEventListener('controllerchange', () => {
    if (reloading) return void location.reload();
    // The user reloaded another tab into the new version: this page still runs the old code.
    if (hadController) show();
    hadController = true;
  });

  const registration = await container.register(scriptUrl, { scope: './' });
  ui.reload.addEventListener('click', () => {
    const waiting = registration.waiting;
    if (!waiting) return void location.reload();
    reloading = true;
    // If the new worker fails to activate, reload anyway: this page gets whatever version is active.
    waiting.addEventListener('statechange', () => waiting.state === 'redundant' && location.reload());
    waiting.postMessage({ type: 'skip-waiting' });
  });
  const watch = (worker: ServiceWorker | null) =>
    worker?.addEventListener('statechange', () => {
      if (worker.state === 'installed' && container.controller) show();
    });
  if (registration.waiting && container.controller) show();
  watch(registration.installing);
  registration.addEventListener('updatefound', () => watch(registration.installing));
}
