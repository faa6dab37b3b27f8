/**
 * The app's entry: defines the shell and, once its first screen is painted,
 * loads everything else: first the services module (the SDK and storage),
 * then, when the page is idle, the service worker registration, whose
 * precaching would otherwise compete with the services' start for the CPU.
 * None of it delays the first screen.
 */
import './components/acn-app.ts';

/** Runs `task` when the browser is idle (at most `timeout` ms later; Safari has no requestIdleCallback). */
function whenIdle(task: () => void, timeout: number): void {
  if ('requestIdleCallback' in window) requestIdleCallback(task, { timeout });
  else setTimeout(task, timeout / 2);
}

const app = document.querySelector('acn-app');
if (app) {
  await app.updateComplete;
  await app.firstScreen;
  // The next frame is painted before the heavy modules start downloading and parsing.
  requestAnimationFrame(() => {
    setTimeout(() => {
      const started = app.loadServices();
      if ('serviceWorker' in navigator) {
        void started.then(() => {
          whenIdle(() => {
            void import('./services/register-sw.ts').then(({ registerAppServiceWorker }) =>
              registerAppServiceWorker(app.updateToast),
            );
          }, 3000);
        });
      }
    }, 0);
  });
}
