/**
 * The app shell: header with the connection state, the current screen, the
 * bottom navigation (one-handed use on a phone) and the update toast. Screens
 * are loaded on demand (one dynamic import per page); the services (SDK,
 * storage, keys) are loaded after the first render by {@link AcnApp.loadServices}
 * and handed down through `@lit/context`, one context per service, so each
 * element consumes only the services it uses.
 */
import { provide } from '@lit/context';
import { css, html, LitElement, nothing, svg, type PropertyValues, type TemplateResult } from 'lit';
import { customElement, query, state } from 'lit/decorators.js';
import {
  accountContext,
  chatContext,
  connectionContext,
  contributionContext,
  initialStatus,
  modelsContext,
  runContext,
  statusContext,
  tasksContext,
  type AccountService,
  type AppServices,
  type AppStatus,
  type ChatSession,
  type ConnectionService,
  type ConnectionState,
  type ContributionService,
  type ModelService,
  type RunSession,
  type TaskService,
} from '../services/app-context.ts';
import { probeDevice, type DeviceKind } from '../services/device-probe.ts';
import { parseRoute, routePath, type Route } from '../services/routes.ts';
import { yieldToMain } from '../services/yield-to-main.ts';
import { sharedStyles } from '../styles/shared-styles.ts';
import './acn-install-button.ts';
import './acn-update-toast.ts';
import type { AcnUpdateToast } from './acn-update-toast.ts';

/** A screen: its element and how to load it. */
interface Screen {
  readonly tag: string;
  readonly title: string;
  readonly load: () => Promise<unknown>;
}

type ScreenName = Exclude<Route['name'], 'task' | 'not-found'> | 'onboarding';

const SCREENS: Readonly<Record<ScreenName, Screen>> = {
  home: { tag: 'page-home', title: 'Home', load: () => import('../pages/page-home.ts') },
  chat: { tag: 'page-chat', title: 'Chat', load: () => import('../pages/page-chat.ts') },
  run: { tag: 'page-run', title: 'Run a task', load: () => import('../pages/page-run.ts') },
  tasks: { tag: 'page-tasks', title: 'Tasks', load: () => import('../pages/page-tasks.ts') },
  wallet: { tag: 'page-wallet', title: 'Wallet', load: () => import('../pages/page-wallet.ts') },
  contribute: { tag: 'page-contribute', title: 'Contribute', load: () => import('../pages/page-contribute.ts') },
  network: { tag: 'page-network', title: 'Network', load: () => import('../pages/page-network.ts') },
  onboarding: { tag: 'page-onboarding', title: 'Welcome', load: () => import('../pages/page-onboarding.ts') },
};

const NAV: readonly { readonly path: string; readonly label: string; readonly icon: TemplateResult }[] = [
  { path: '/', label: 'Home', icon: svg`<path d="M3 11 12 3l9 8v10h-6v-6H9v6H3z"/>` },
  {
    path: '/chat',
    label: 'Chat',
    icon: svg`<path d="M4 5h16v11H9l-5 4z"/><path d="M8 9h8M8 12h5"/>`,
  },
  { path: '/run', label: 'Run', icon: svg`<circle cx="12" cy="12" r="9"/><path d="m10 8 6 4-6 4z"/>` },
  { path: '/tasks', label: 'Tasks', icon: svg`<path d="M8 6h12M8 12h12M8 18h12M4 6h.01M4 12h.01M4 18h.01"/>` },
  {
    path: '/wallet',
    label: 'Wallet',
    icon: svg`<rect x="3" y="6" width="18" height="14" rx="2"/><path d="M3 10h18M16 15h2"/>`,
  },
  {
    path: '/contribute',
    label: 'Contribute',
    icon: svg`<rect x="6" y="6" width="12" height="12" rx="1"/><path d="M9 2v4M15 2v4M9 18v4M15 18v4M2 9h4M2 15h4M18 9h4M18 15h4"/>`,
  },
];

/** Short, so the header's width never changes with the state (no layout shift); the link's name says it in full. */
const CONNECTION_TEXT: Readonly<Record<ConnectionState, string>> = {
  checking: 'Connecting',
  online: 'Online',
  offline: 'Offline',
  unreachable: 'No relay',
};

const CONNECTION_NAME: Readonly<Record<ConnectionState, string>> = {
  checking: 'Connecting to the relay',
  online: 'Online',
  offline: 'Offline',
  unreachable: 'The relay is unreachable',
};

/**
 * The screen a route shows in a status. While the services start, a first
 * open (no database yet) already shows onboarding and a returning device its
 * screen; when the probe cannot tell, the skeleton waits for the services.
 */
function screenOf(
  route: Route,
  status: AppStatus,
  device: DeviceKind | undefined,
): ScreenName | 'not-found' | 'skeleton' {
  const onboarding = status.phase === 'onboarding' || (status.phase === 'starting' && device === 'new');
  if (onboarding && route.name !== 'network') return 'onboarding';
  if (status.phase === 'starting' && device !== 'known' && device !== 'new') return 'skeleton';
  if (route.name === 'task') return 'tasks';
  return route.name;
}

@customElement('acn-app')
export class AcnApp extends LitElement {
  static override styles = [
    sharedStyles,
    css`
      :host {
        display: block;
        min-height: 100vh;
        min-height: 100dvh;
      }
      header {
        position: sticky;
        top: 0;
        z-index: 2;
        height: var(--acn-header-height);
        background: var(--acn-primary);
        color: var(--acn-on-primary);
        display: flex;
        align-items: center;
        gap: 8px;
        padding: 0 8px 0 16px;
      }
      .brand {
        font-weight: 600;
        flex: 1;
        white-space: nowrap;
        overflow: hidden;
        text-overflow: ellipsis;
        color: inherit;
        text-decoration: none;
      }
      .connection {
        display: inline-flex;
        align-items: center;
        flex: none;
        width: 7.5em;
        gap: 6px;
        min-height: 48px;
        padding: 0 10px;
        border-radius: 10px;
        color: inherit;
        text-decoration: none;
        font-size: 0.875rem;
        white-space: nowrap;
      }
      .dot {
        width: 10px;
        height: 10px;
        border-radius: 50%;
        background: #94a3b8;
        border: 1px solid #fff;
      }
      .connection[data-state='online'] .dot {
        background: #4ade80;
      }
      .connection[data-state='offline'] .dot,
      .connection[data-state='unreachable'] .dot {
        background: #fbbf24;
      }
      main {
        max-width: 720px;
        margin: 0 auto;
        padding: 16px 16px calc(var(--acn-nav-height) + 24px + env(safe-area-inset-bottom));
        outline: none;
      }
      nav {
        position: fixed;
        left: 0;
        right: 0;
        bottom: 0;
        z-index: 2;
        height: calc(var(--acn-nav-height) + env(safe-area-inset-bottom));
        padding-bottom: env(safe-area-inset-bottom);
        background: var(--acn-surface);
        border-top: 1px solid var(--acn-border);
      }
      nav ul {
        list-style: none;
        margin: 0 auto;
        padding: 0;
        max-width: 720px;
        height: var(--acn-nav-height);
        display: grid;
        grid-template-columns: repeat(6, 1fr);
      }
      nav a {
        position: relative;
        height: 100%;
        display: flex;
        flex-direction: column;
        align-items: center;
        justify-content: center;
        gap: 2px;
        color: var(--acn-muted);
        text-decoration: none;
        font-size: 0.75rem;
        font-weight: 600;
      }
      nav a[aria-current='page'] {
        color: var(--acn-primary-dark);
      }
      nav a[aria-current='page']::before {
        content: '';
        position: absolute;
        top: 0;
        left: 25%;
        right: 25%;
        height: 3px;
        border-radius: 0 0 3px 3px;
        background: var(--acn-primary);
      }
      nav svg {
        width: 24px;
        height: 24px;
        fill: none;
        stroke: currentColor;
        stroke-width: 2;
        stroke-linecap: round;
        stroke-linejoin: round;
      }
      .count {
        position: absolute;
        top: 6px;
        left: calc(50% + 6px);
        min-width: 18px;
        height: 18px;
        padding: 0 5px;
        border-radius: 9px;
        background: var(--acn-warn);
        color: #fff;
        font-size: 0.6875rem;
        line-height: 18px;
        text-align: center;
      }
      .skeleton {
        border-radius: var(--acn-radius);
        background: #e2e8f0;
        margin: 0 0 16px;
      }
    `,
  ];

  /** The services, once loaded (each is also provided on its own below). */
  @state() services: AppServices | undefined;

  @provide({ context: accountContext }) account: AccountService | undefined;
  @provide({ context: connectionContext }) connection: ConnectionService | undefined;
  @provide({ context: tasksContext }) tasks: TaskService | undefined;
  @provide({ context: modelsContext }) models: ModelService | undefined;
  @provide({ context: contributionContext }) contribution: ContributionService | undefined;
  @provide({ context: runContext }) run: RunSession | undefined;
  @provide({ context: chatContext }) chat: ChatSession | undefined;

  @provide({ context: statusContext })
  @state()
  status: AppStatus = initialStatus(navigator.onLine);

  @state() private route: Route = parseRoute(location.pathname);
  /** Screens whose module has loaded. */
  @state() private loaded = new Set<string>();
  @state() private loadFailed: string | undefined;
  /** Whether this browser has the app's database (probed before the services load). */
  @state() private device: DeviceKind | undefined;

  @query('main') private main!: HTMLElement;
  @query('acn-update-toast') private toast!: AcnUpdateToast;

  /** Resolves once the first screen (or the skeleton) is rendered: the services load after it. */
  readonly firstScreen: Promise<void>;
  private resolveFirstScreen!: () => void;

  /** Set on a navigation by the user, so focus moves to the new screen (not on the first load). */
  private moveFocus = false;
  private servicesLoading: Promise<void> | undefined;

  constructor() {
    super();
    this.firstScreen = new Promise((resolve) => {
      this.resolveFirstScreen = resolve;
    });
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void probeDevice().then((device) => {
      this.device = device;
    });
    window.addEventListener('popstate', this.onPopState);
    this.addEventListener('click', this.onClick);
    this.addEventListener('acn-navigate', this.onNavigateEvent as EventListener);
  }

  override disconnectedCallback(): void {
    window.removeEventListener('popstate', this.onPopState);
    this.removeEventListener('click', this.onClick);
    this.removeEventListener('acn-navigate', this.onNavigateEvent as EventListener);
    void this.services?.stop();
    super.disconnectedCallback();
  }

  /** The update toast, for the service worker registration. */
  get updateToast(): AcnUpdateToast {
    return this.toast;
  }

  /**
   * Loads the services module (SDK, storage, keys) and starts the services:
   * called once, after the first render, so none of it delays first paint.
   */
  loadServices(): Promise<void> {
    this.servicesLoading ??= this.startServices();
    return this.servicesLoading;
  }

  private async startServices(): Promise<void> {
    try {
      const { startAppServices } = await import('../services/app-services.ts');
      // Evaluating the services' modules is a task of its own; starting them is the next.
      await yieldToMain();
      const services = await startAppServices({
        location,
        history,
        onStatus: (status) => {
          this.status = status;
        },
      });
      this.services = services;
      ({
        account: this.account,
        connection: this.connection,
        tasks: this.tasks,
        models: this.models,
        contribution: this.contribution,
        run: this.run,
        chat: this.chat,
      } = services);
    } catch (error) {
      this.status = {
        ...this.status,
        phase: 'failed',
        failure: {
          title: 'The app could not start',
          message:
            error instanceof Error && error.name === 'ChunkLoadError'
              ? 'Part of the app could not be downloaded. Check your connection and reload.'
              : `The app could not open its storage on this device (${error instanceof Error ? error.message : String(error)}). Private browsing can block it: open the app in a normal window and reload.`,
          code: undefined,
        },
      };
    }
  }

  /** Goes to `path` inside the app (History API). */
  navigate(path: string, options: { replace?: boolean } = {}): void {
    const url = new URL(path, location.href);
    if (url.pathname === location.pathname && url.search === location.search) return;
    if (options.replace === true) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
    this.moveFocus = true;
    this.route = parseRoute(url.pathname);
    window.scrollTo({ top: 0 });
  }

  private readonly onPopState = (): void => {
    this.moveFocus = true;
    this.route = parseRoute(location.pathname);
  };

  private readonly onNavigateEvent = (event: CustomEvent<{ path: string }>): void => {
    this.navigate(event.detail.path);
  };

  /** Same-origin links to the app's routes navigate without reloading the page. */
  private readonly onClick = (event: MouseEvent): void => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    const anchor = event.composedPath().find((n): n is HTMLAnchorElement => n instanceof HTMLAnchorElement);
    if (anchor?.target !== '' || anchor.hasAttribute('download')) return;
    const url = new URL(anchor.href, location.href);
    if (url.origin !== location.origin || parseRoute(url.pathname).name === 'not-found') return;
    event.preventDefault();
    this.navigate(url.pathname + url.search);
  };

  private get screen(): ScreenName | 'not-found' | 'skeleton' {
    return screenOf(this.route, this.status, this.device);
  }

  protected override willUpdate(changed: PropertyValues): void {
    if (changed.has('route') || changed.has('status') || changed.has('device')) {
      const name = this.screen;
      if (name !== 'not-found' && name !== 'skeleton') this.ensureLoaded(SCREENS[name]);
      const title = name === 'not-found' ? 'Not found' : name === 'skeleton' ? 'Loading' : SCREENS[name].title;
      document.title = `${title} · AI Compute Network`;
    }
  }

  protected override updated(): void {
    const name = this.screen;
    if (
      this.device !== undefined &&
      (name === 'skeleton' || name === 'not-found' || this.loaded.has(SCREENS[name].tag))
    ) {
      this.resolveFirstScreen();
    }
    if (this.moveFocus) {
      this.moveFocus = false;
      this.main.focus({ preventScroll: true });
    }
  }

  private ensureLoaded(screen: Screen): void {
    if (this.loaded.has(screen.tag)) return;
    screen.load().then(
      () => {
        this.loaded = new Set(this.loaded).add(screen.tag);
        this.loadFailed = undefined;
      },
      () => {
        this.loadFailed = screen.title;
      },
    );
  }

  override render(): TemplateResult {
    const { status } = this;
    return html`
      <header>
        <a class="brand" href="/">AI Compute Network</a>
        <acn-install-button></acn-install-button>
        <a
          class="connection"
          href="/network"
          data-testid="connection-state"
          data-state=${status.connection}
          aria-label="${CONNECTION_NAME[status.connection]}: network details"
        >
          <span class="dot" aria-hidden="true"></span>${CONNECTION_TEXT[status.connection]}
        </a>
      </header>
      <main tabindex="-1" aria-busy=${status.phase === 'starting' ? 'true' : 'false'}>${this.renderScreen()}</main>
      <acn-update-toast></acn-update-toast>
      ${this.screen === 'onboarding' ? nothing : this.renderNav()}
    `;
  }

  private renderNav(): TemplateResult {
    const current = this.route.name === 'task' ? '/tasks' : routePath(this.route);
    const queued = this.status.outboxQueued;
    return html`<nav aria-label="Main">
      <ul>
        ${NAV.map(
          (item) =>
            html`<li>
              <a href=${item.path} aria-current=${current === item.path ? 'page' : 'false'}>
                <svg viewBox="0 0 24 24" aria-hidden="true">${item.icon}</svg>
                ${item.label}
                ${
                  item.path === '/tasks' && queued > 0
                    ? html`<span class="count" aria-label="${queued} queued">${queued}</span>`
                    : nothing
                }
              </a>
            </li>`,
        )}
      </ul>
    </nav>`;
  }

  private renderScreen(): TemplateResult {
    const { status } = this;
    if (status.phase === 'failed' && status.failure) {
      return html`<h1>${status.failure.title}</h1>
        <div class="notice error" role="alert" data-testid="app-failure" data-code=${status.failure.code ?? ''}>
          ${status.failure.message}
        </div>
        <button
          @click=${() => {
            location.reload();
          }}
        >
          Reload
        </button>`;
    }
    const name = this.screen;
    if (name === 'skeleton') return this.renderSkeleton();
    if (name === 'not-found') {
      return html`<h1>Page not found</h1>
        <p>There is no screen at this address.</p>
        <a class="button" href="/">Go to Home</a>`;
    }
    const screen = SCREENS[name];
    if (!this.loaded.has(screen.tag)) {
      if (this.loadFailed === screen.title) {
        return html`<h1>${screen.title}</h1>
          <div class="notice error" role="alert">
            This screen could not be loaded. Check your connection, then reload.
          </div>
          <button
            @click=${() => {
              location.reload();
            }}
          >
            Reload
          </button>`;
      }
      return this.renderSkeleton();
    }
    switch (name) {
      case 'home':
        return html`<page-home></page-home>`;
      case 'chat':
        return html`<page-chat></page-chat>`;
      case 'run':
        return html`<page-run></page-run>`;
      case 'tasks':
        return html`<page-tasks .taskId=${this.route.name === 'task' ? this.route.id : undefined}></page-tasks>`;
      case 'wallet':
        return html`<page-wallet></page-wallet>`;
      case 'contribute':
        return html`<page-contribute></page-contribute>`;
      case 'network':
        return html`<page-network></page-network>`;
      case 'onboarding':
        return html`<page-onboarding></page-onboarding>`;
    }
  }

  /** The home skeleton: the same frame as the home screen's first cards, so nothing shifts when it arrives. */
  private renderSkeleton(): TemplateResult {
    return html`<div aria-hidden="true" data-testid="skeleton">
        <div class="skeleton" style="height:36px;width:40%"></div>
        <div class="skeleton" style="height:224px"></div>
        <div class="skeleton" style="height:200px"></div>
      </div>
      <p class="visually-hidden" role="status">Loading…</p>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'acn-app': AcnApp;
  }
  interface HTMLElementEventMap {
    /** A page asks the shell to go to `detail.path`. */
    'acn-navigate': CustomEvent<{ path: string }>;
  }
}
