/**
 * The app's path routes (History API). The relay and the service worker answer
 * every one of these paths with index.html, so a reload or a shared link lands
 * on the right screen. This module is on the critical path: it imports nothing.
 */

/** A screen of the app and its parameters. */
export type Route =
  | { readonly name: 'home' }
  | { readonly name: 'chat' }
  | { readonly name: 'run' }
  | { readonly name: 'tasks' }
  /** One task; `id` is checked (64 hex characters) but not yet parsed into a TaskId. */
  | { readonly name: 'task'; readonly id: string }
  | { readonly name: 'wallet' }
  | { readonly name: 'contribute' }
  | { readonly name: 'network' }
  | { readonly name: 'not-found'; readonly path: string };

export type RouteName = Route['name'];

const TASK_PATH = /^\/tasks\/([0-9a-f]{64})$/;
const SIMPLE: Readonly<Record<string, RouteName>> = {
  '/': 'home',
  '/chat': 'chat',
  '/run': 'run',
  '/tasks': 'tasks',
  '/wallet': 'wallet',
  '/contribute': 'contribute',
  '/network': 'network',
};

/** The route of a path name; a trailing slash is ignored. */
export function parseRoute(pathname: string): Route {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  const simple = SIMPLE[path];
  if (simple !== undefined && simple !== 'task' && simple !== 'not-found') return { name: simple };
  const task = TASK_PATH.exec(path);
  if (task?.[1] !== undefined) return { name: 'task', id: task[1] };
  return { name: 'not-found', path };
}

/** The path of a route. */
export function routePath(route: Route): string {
  switch (route.name) {
    case 'home':
      return '/';
    case 'task':
      return `/tasks/${route.id}`;
    case 'not-found':
      return route.path;
    default:
      return `/${route.name}`;
  }
}

/**
 * The relay account id carried by a join URL's fragment (`#relay=<id>`), or
 * undefined. The id is checked by the relay pin, not here.
 */
export function joinRelayOf(hash: string): string | undefined {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const relay = params.get('relay');
  return relay === null || relay === '' ? undefined : relay;
}
