/**
 * The app's entry: defines the shell and, once its first screen is painted,
 * loads everything else (the services module with the SDK and storage, and
 * the service worker registration), so none of it delays the first screen.
 */
import './components/acn-app.ts';

const app = document.querySelector('acn-app');
if (app) {
  await app.updateComplete;
  await app.firstScreen;
  // The next frame is painted before the heavy modules start downloading and parsing.
  requestAnimationFrame(() => {
    setTimeout(() => {
      void app.loadServices();
      if ('serviceWorker' in navigator) {
        void import('./services/register-sw.ts').then(({ registerAppServiceWorker }) =>
          registerAppServiceWorker(app.updateToast),
        );
      }
    }, 0);
  });
}
