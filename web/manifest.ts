/**
 * The web app manifest. vite-plugin-pwa writes it as manifest.webmanifest and
 * adds the icons it generates from public/icon.svg (192, 512, maskable 512).
 */
import type { ManifestOptions } from 'vite-plugin-pwa';

export const THEME_COLOR = '#0f766e';
export const BACKGROUND_COLOR = '#f8fafc';

export const webManifest: Partial<ManifestOptions> = {
  id: '/',
  name: 'AI Compute Network',
  short_name: 'ACN',
  description: 'Run AI tasks on a community-owned network: signed, paid for with tokens and verified on your phone.',
  start_url: '/',
  scope: '/',
  display: 'standalone',
  orientation: 'any',
  theme_color: THEME_COLOR,
  background_color: BACKGROUND_COLOR,
  categories: ['utilities', 'productivity'],
  lang: 'en',
  screenshots: [
    {
      src: '/screenshots/narrow.png',
      sizes: '720x1280',
      type: 'image/png',
      form_factor: 'narrow',
      label: 'Home: balance, recent tasks and connection state',
    },
    {
      src: '/screenshots/wide.png',
      sizes: '1280x800',
      type: 'image/png',
      form_factor: 'wide',
      label: 'Run a task on a small model',
    },
  ],
  shortcuts: [
    { name: 'Run a task', short_name: 'Run', url: '/run', icons: [{ src: '/pwa-192x192.png', sizes: '192x192' }] },
    { name: 'Wallet', short_name: 'Wallet', url: '/wallet', icons: [{ src: '/pwa-192x192.png', sizes: '192x192' }] },
    {
      name: 'Contribute compute',
      short_name: 'Contribute',
      url: '/contribute',
      icons: [{ src: '/pwa-192x192.png', sizes: '192x192' }],
    },
  ],
};
