/**
 * Chat: talk to a language model from the relay's catalogue, on this phone
 * (free, offline once the model is here) or on the network (signed, paid
 * for the pieces it writes, verified on the phone). The answer streams in as
 * it is written, with its speed; Stop ends it with what it wrote. The
 * conversations are kept on this phone.
 *
 * The screen only shows and forwards: everything lives in the app's
 * {@link ChatSession} (`chatContext`), so leaving the screen and coming back
 * shows the conversation, and an answer still being written, as they were.
 */
import { consume } from '@lit/context';
import { Task } from '@lit/task';
import { css, html, LitElement, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import type { ModelEntry } from '#core/models/catalogue.ts';
import type { StoredChatMessage, StoredConversation } from '#browser-storage/conversations.ts';
import '../components/acn-chat-message.ts';
import { modelsContext, statusContext, type AppStatus, type ModelService } from '../services/app-context.ts';
import { ChatController } from '../services/chat-controller.ts';
import { examplePrompts, modelHint, priceText } from '../services/chat-prompt.ts';
import type { ChatSession, ChatSnapshot } from '../services/chat-session.ts';
import { estimateOf, liveLabel, rateText, whenText } from '../services/chat-view.ts';
import { errorText } from '../services/error-text.ts';
import { formatCount } from '../services/format-count.ts';
import { sharedStyles } from '../styles/shared-styles.ts';

@customElement('page-chat')
export class PageChat extends LitElement {
  static override styles = [
    sharedStyles,
    css`
      .where {
        display: grid;
        grid-template-columns: 1fr 1fr;
        gap: 8px;
        border: 0;
        padding: 0;
        margin: 12px 0 0;
      }
      .where label {
        display: flex;
        align-items: center;
        gap: 8px;
        min-height: 48px;
        padding: 8px 12px;
        border: 1px solid var(--acn-border);
        border-radius: 10px;
        margin: 0;
        cursor: pointer;
      }
      .where label:has(input:checked) {
        border-color: var(--acn-primary);
        box-shadow: inset 0 0 0 1px var(--acn-primary);
        background: #f0fdfa;
      }
      .where label:has(input:disabled) {
        opacity: 0.55;
        cursor: not-allowed;
      }
      .where input {
        width: 20px;
        height: 20px;
        margin: 0;
        accent-color: var(--acn-primary);
      }
      .log {
        display: flex;
        flex-direction: column;
        gap: 10px;
        margin: 0 0 16px;
      }
      .examples {
        display: flex;
        flex-wrap: wrap;
        justify-content: center;
        gap: 8px;
        margin-top: 8px;
      }
      .live {
        display: flex;
        align-items: center;
        justify-content: space-between;
        gap: 8px;
        flex-wrap: wrap;
        margin: 0 0 12px;
      }
      .live strong {
        font-variant-numeric: tabular-nums;
      }
      .composer textarea {
        min-height: 72px;
      }
      .send-row {
        display: flex;
        justify-content: space-between;
        align-items: center;
        gap: 8px;
        margin-top: 8px;
      }
      .estimate strong {
        display: block;
      }
      .conversations li {
        display: flex;
        align-items: center;
        gap: 8px;
        border-bottom: 1px solid var(--acn-border);
      }
      .conversations li:last-child {
        border-bottom: 0;
      }
      .conversations .open-conversation {
        flex: 1;
        justify-content: flex-start;
        text-align: left;
        background: none;
        border: 0;
        color: var(--acn-text);
        font-weight: 400;
        padding: 8px 4px;
        overflow: hidden;
      }
      .conversations .open-conversation span {
        overflow: hidden;
        text-overflow: ellipsis;
        white-space: nowrap;
      }
      .conversations [aria-current='true'] .open-conversation {
        font-weight: 700;
      }
      summary {
        min-height: 48px;
        display: flex;
        align-items: center;
        cursor: pointer;
        font-weight: 600;
      }
    `,
  ];

  @consume({ context: modelsContext, subscribe: true })
  @state()
  models: ModelService | undefined;

  @consume({ context: statusContext, subscribe: true })
  @state()
  status!: AppStatus;

  private readonly chat = new ChatController(this);

  private readonly catalogue = new Task(this, {
    task: async ([models], { signal }) => (models ? (await models.catalogue({ signal })).models : undefined),
    args: () => [this.models] as const,
  });

  /** Messages shown at the last render, to scroll to a new one. */
  private shownMessages = 0;

  protected override willUpdate(): void {
    const models = this.catalogue.value;
    if (models !== undefined) this.chat.session?.offer(models);
  }

  protected override updated(changed: PropertyValues): void {
    super.updated(changed);
    const count = this.chat.state?.conversation?.messages.length ?? 0;
    if (count > this.shownMessages) {
      this.renderRoot.querySelector('[data-testid=chat-composer]')?.scrollIntoView({ block: 'nearest' });
    }
    this.shownMessages = count;
  }

  override render(): TemplateResult {
    const { session, state: snapshot } = this.chat;
    return html`<div class="spread">
        <h1>Chat</h1>
        ${
          session && snapshot?.conversation
            ? html`<button
                class="secondary"
                data-testid="chat-new"
                @click=${() => {
                  session.newChat();
                }}
              >
                New chat
              </button>`
            : nothing
        }
      </div>
      ${this.catalogue.render({
        initial: () => html`<p class="muted">Loading the models…</p>`,
        pending: () => html`<p class="muted">Loading the models…</p>`,
        complete: () =>
          session === undefined || snapshot?.loaded !== true
            ? html`<p class="muted">Loading your conversations…</p>`
            : this.renderChat(session, snapshot),
        error: (error) =>
          html`<div class="notice error" role="alert" data-testid="chat-catalogue-error">
              ${errorText(error).message}
            </div>
            <button @click=${() => void this.catalogue.run()}>Try again</button>`,
      })}`;
  }

  private renderChat(session: ChatSession, snapshot: ChatSnapshot): TemplateResult {
    const entry = snapshot.entry;
    return html`${
      snapshot.error
        ? html`<div class="notice error" role="alert" data-testid="chat-error">${snapshot.error.message}</div>`
        : nothing
    }
    ${this.renderConversations(session, snapshot)}
    ${
      entry === undefined
        ? html`<div class="empty card" data-testid="chat-no-model">
            <p>This relay offers no language model yet, so there is nobody to chat with.</p>
            <a class="button secondary" href="/run">Run another kind of task</a>
          </div>`
        : html`${this.renderModel(session, snapshot, entry)} ${this.renderMessages(session, snapshot, entry)}
          ${this.renderComposer(session, snapshot, entry)}`
    }`;
  }

  private renderConversations(session: ChatSession, snapshot: ChatSnapshot): TemplateResult {
    const { conversations } = snapshot;
    return html`<details class="card conversations" data-testid="chat-conversations" data-count=${conversations.length}>
      <summary>Conversations (${conversations.length})</summary>
      ${
        conversations.length === 0
          ? html`<p class="muted" data-testid="chat-conversations-empty">
              None yet: your first message starts one. They are kept on this phone only.
            </p>`
          : html`<ul class="plain">
              ${conversations.map((c) => this.renderConversationRow(session, snapshot, c))}
            </ul>`
      }
    </details>`;
  }

  private renderConversationRow(
    session: ChatSession,
    snapshot: ChatSnapshot,
    conversation: StoredConversation,
  ): TemplateResult {
    const current = snapshot.conversation?.id === conversation.id;
    return html`<li
      data-testid="chat-conversation"
      data-id=${conversation.id}
      aria-current=${current ? 'true' : 'false'}
    >
      <button
        class="open-conversation"
        @click=${() => {
          session.open(conversation.id);
        }}
      >
        <span>${conversation.title}</span>
        <span class="muted">${whenText(conversation.updatedAt)}</span>
      </button>
      <button
        class="secondary"
        data-testid="chat-delete"
        aria-label="Delete the conversation “${conversation.title}”"
        @click=${() => {
          if (confirm(`Delete the conversation “${conversation.title}”?`)) void session.remove(conversation.id);
        }}
      >
        Delete
      </button>
    </li>`;
  }

  private renderModel(session: ChatSession, snapshot: ChatSnapshot, entry: ModelEntry): TemplateResult {
    const phoneOk = entry.sizeClass === 'phone';
    const busy = snapshot.live !== undefined;
    return html`<section class="card" aria-labelledby="chat-model-label">
      <label id="chat-model-label" for="chat-model">Model</label>
      <select
        id="chat-model"
        data-testid="chat-model"
        ?disabled=${busy}
        @change=${(e: Event) => {
          const chosen = snapshot.models.find((m) => m.id === (e.target as HTMLSelectElement).value);
          if (chosen) session.select(chosen);
        }}
      >
        ${snapshot.models.map((m) => html`<option value=${m.id} ?selected=${m.id === entry.id}>${m.name}</option>`)}
      </select>
      <p class="hint" data-testid="chat-model-hint">${modelHint(entry)}</p>
      <p class="hint">${priceText(entry)} on the network. A piece is part of a word.</p>
      <fieldset class="where" ?disabled=${busy}>
        <legend class="visually-hidden">Where the model runs</legend>
        <label>
          <input
            type="radio"
            name="where"
            value="phone"
            data-testid="chat-where-phone"
            .checked=${snapshot.where === 'phone'}
            ?disabled=${!phoneOk}
            @change=${() => {
              session.setWhere('phone');
            }}
          />
          On this phone
        </label>
        <label>
          <input
            type="radio"
            name="where"
            value="network"
            data-testid="chat-where-network"
            .checked=${snapshot.where === 'network'}
            @change=${() => {
              session.setWhere('network');
            }}
          />
          On the network
        </label>
      </fieldset>
      ${phoneOk ? nothing : html`<p class="hint">This model is too large for phones: it runs on the network.</p>`}
    </section>`;
  }

  private renderMessages(session: ChatSession, snapshot: ChatSnapshot, entry: ModelEntry): TemplateResult {
    const messages = snapshot.conversation?.messages ?? [];
    if (messages.length === 0) {
      const examples = examplePrompts(entry);
      return html`<div class="empty card" data-testid="chat-empty">
        <p>Ask ${entry.name} something to start a conversation.</p>
        ${
          examples.length > 0
            ? html`<p>Try one of these:</p>
                <div class="examples">
                  ${examples.map(
                    (example) =>
                      html`<button
                        class="secondary"
                        data-testid="chat-example"
                        @click=${() => {
                          session.setDraft(example);
                        }}
                      >
                        ${example}
                      </button>`,
                  )}
                </div>`
            : nothing
        }
      </div>`;
    }
    return html`<div class="log" role="log" aria-label="Conversation" data-testid="chat-log">
      ${messages.map((m: StoredChatMessage) => {
        const live = snapshot.live?.messageId === m.id ? snapshot.live : undefined;
        return html`<acn-chat-message
          .message=${m}
          .live=${live}
          .verifying=${snapshot.verifying.has(m.id)}
        ></acn-chat-message>`;
      })}
    </div>`;
  }

  private renderComposer(session: ChatSession, snapshot: ChatSnapshot, entry: ModelEntry): TemplateResult {
    const { live, request, draftError, where } = snapshot;
    const balance = this.status.balance;
    const estimate = request ? estimateOf(entry, request, where, balance) : undefined;
    const offline = this.status.connection === 'offline' || this.status.connection === 'unreachable';
    const canSend = request !== undefined && live === undefined && estimate?.tooPoor !== true;
    return html`<section class="card composer" data-testid="chat-composer" aria-label="Your message">
      ${
        live
          ? html`<div class="live" role="status" data-testid="chat-live" data-phase=${live.phase}>
              <span>
                ${liveLabel(live, where)}
                <strong data-testid="chat-rate" data-value=${live.piecesPerSecond ?? ''}
                  >${rateText(live.piecesPerSecond)}</strong
                >
              </span>
              <button
                class="danger"
                data-testid="chat-stop"
                ?disabled=${live.stopping}
                @click=${() => {
                  session.stopAnswer();
                }}
              >
                Stop
              </button>
            </div>`
          : nothing
      }
      <label for="chat-input" class="visually-hidden">Your message</label>
      <textarea
        id="chat-input"
        data-testid="chat-input"
        maxlength="8000"
        placeholder="Write a message…"
        aria-describedby="chat-estimate"
        .value=${snapshot.draft}
        @input=${(e: Event) => {
          session.setDraft((e.target as HTMLTextAreaElement).value);
        }}
        @keydown=${(e: KeyboardEvent) => {
          // Enter sends, Shift+Enter starts a new line (as in every chat app).
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            if (canSend) void session.send();
          }
        }}
      ></textarea>
      <div class="send-row">
        <div
          class="estimate hint"
          id="chat-estimate"
          data-testid="chat-estimate"
          data-value=${estimate?.maxPrice ?? ''}
          data-where=${where}
        >
          ${
            draftError
              ? html`<span data-testid="chat-draft-error">${draftError}</span>`
              : estimate
                ? html`<strong>${estimate.headline}</strong>${estimate.detail}`
                : html`Type a message to see what it costs.`
          }
        </div>
        <button data-testid="chat-send" ?disabled=${!canSend} @click=${() => void session.send()}>Send</button>
      </div>
      ${
        request && request.leftOut > 0
          ? html`<p class="hint">
              The model reads only the latest messages: ${formatCount(request.leftOut)} earlier
              ${request.leftOut === 1 ? 'one is' : 'ones are'} left out.
            </p>`
          : nothing
      }
      ${
        where === 'network'
          ? html`<p class="hint" data-testid="chat-balance" data-value=${balance ?? ''}>
              ${balance === undefined ? '' : `Your balance: ${formatCount(balance)} tokens.`}
              ${offline ? 'You are offline: your message is queued and sent when you are back online.' : ''}
            </p>`
          : nothing
      }
      ${
        estimate?.tooPoor === true
          ? html`<div class="notice warn">
              Your balance is too low for this on the network. Chat on this phone, or earn tokens by contributing.
            </div>`
          : nothing
      }
    </section>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'page-chat': PageChat;
  }
}
