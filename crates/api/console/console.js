// The operator console (docs/operations.md "Operator console"). Plain JavaScript, no dependencies.
// Every value from the API reaches the page as text (textContent, text nodes, attributes
// set one by one); nothing is ever parsed as HTML. Requests go to the admin API of this
// page's own origin only, with the api key from sessionStorage.
'use strict';

const KEY_STORE = 'hanko-console.api-key';
const PER_PAGE = 25;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const regions = {
  view: document.getElementById('view'),
  status: document.getElementById('status'),
  alert: document.getElementById('alert'),
  signOut: document.getElementById('sign-out'),
};

// ---- building the page -------------------------------------------------------------------

/** An element with attributes and children; strings become text nodes, never markup. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

let fieldCount = 0;

/** A labelled control: `make(id)` builds the control. */
function field(label, make, hint) {
  const id = `field-${++fieldCount}`;
  const control = make(id);
  const hintId = hint ? `${id}-hint` : undefined;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return {
    control,
    node: h('div', { class: 'field' }, h('label', { for: id }, label), control,
      hint ? h('span', { id: hintId, class: 'hint' }, hint) : null),
  };
}

function select(id, options, chosen) {
  return h('select', { id, name: id },
    options.map(([value, text]) => h('option', { value, selected: value === chosen }, text)));
}

/** A table in a scrollable, focusable region (narrow screens scroll it sideways). */
function table(caption, headings, rows, empty) {
  if (rows.length === 0) return h('p', {}, empty);
  return h('div', { class: 'scroll', role: 'region', 'aria-label': caption, tabindex: 0 },
    h('table', {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, headings.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((c) => h('td', {}, c)))))));
}

function time(value) {
  if (!value) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value)
    : `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** "2 d 3 h left", "5 min left", "due now". */
function timeLeft(value) {
  let minutes = Math.floor((Date.parse(value) - Date.now()) / 60000);
  if (!(minutes > 0)) return 'due now';
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  minutes %= 60;
  const parts = [];
  if (days) parts.push(`${days} d`);
  if (hours) parts.push(`${hours} h`);
  if (!days && minutes) parts.push(`${minutes} min`);
  return `${parts.join(' ')} left`;
}

/** The name a user goes by in lists: the primary address, else any, else the id. */
function userName(user) {
  return user.email ?? user.emails?.[0]?.address ?? user.id;
}

function userLink(user) {
  return h('a', { href: `#/users/${user.id}` }, userName(user));
}

function pager(page, total, hrefOf) {
  const pages = Math.max(1, Math.ceil(total / PER_PAGE));
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    page > 1 ? h('a', { href: hrefOf(page - 1) }, 'Previous page') : null,
    h('span', {}, `Page ${page} of ${pages} (${total} in all)`),
    page < pages ? h('a', { href: hrefOf(page + 1) }, 'Next page') : null);
}

// ---- messages ------------------------------------------------------------------------------

function say(message) {
  regions.alert.textContent = '';
  regions.status.textContent = message;
}

function fail(message) {
  regions.status.textContent = '';
  regions.alert.textContent = message;
}

function quiet() {
  regions.status.textContent = '';
  regions.alert.textContent = '';
}

// ---- the admin API -------------------------------------------------------------------------

class ApiFailure extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** One admin API call, relative to this page (so a proxy's path prefix is kept). */
async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const key = sessionStorage.getItem(KEY_STORE);
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(new URL(`../${path}`, document.baseURI), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch {
    throw new ApiFailure(0, 'The admin API did not answer. Is the service running?');
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.status === 401) {
    const hadKey = sessionStorage.getItem(KEY_STORE) !== null;
    sessionStorage.removeItem(KEY_STORE);
    signIn(hadKey ? 'The API key was refused.' : null);
    throw new ApiFailure(401, hadKey ? 'The API key was refused.' : 'Sign in with the API key.');
  }
  if (!response.ok) {
    const reason = data && typeof data.message === 'string' ? data.message : response.statusText;
    throw new ApiFailure(response.status, `The admin API answered ${response.status}: ${reason}`);
  }
  return { data, total: Number(response.headers.get('X-Total-Count') ?? 0) };
}

// ---- views ---------------------------------------------------------------------------------

/** Each render belongs to one navigation; a slow answer for an old one is dropped. */
let generation = 0;
let signedOut = false;
/** A result to announce once the next view is drawn (an action that navigates away). */
let afterNavigation = null;

function render(...nodes) {
  regions.view.replaceChildren(...nodes.flat());
}

function heading(text) {
  return h('h1', { tabindex: -1 }, text);
}

/** Runs an action from a button: shows its result or the API's error, then redraws. */
async function act(button, action) {
  button.disabled = true;
  quiet();
  try {
    const message = await action();
    await show({ keepMessages: true });
    if (message) say(message);
  } catch (error) {
    if (error.status !== 401) fail(error.message);
    button.disabled = false;
  }
}

function signIn(message) {
  signedOut = true;
  regions.signOut.hidden = true;
  const key = field('API key', (id) => h('input', {
    id, type: 'password', name: 'api-key', autocomplete: 'off', required: true, spellcheck: 'false',
  }), 'The value of server.admin.api_key. Kept in this tab only, until it closes.');
  const form = h('form', {
    class: 'stacked',
    onsubmit: async (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY_STORE, key.control.value.trim());
      quiet();
      try {
        await api('GET', 'users?per_page=1');
        signedOut = false;
        regions.signOut.hidden = false;
        await show();
        say('Signed in.');
      } catch (error) {
        if (error.status !== 401) fail(error.message);
      }
    },
  }, key.node, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Sign in')));
  render(heading('Sign in'), form);
  if (message) fail(message);
  key.control.focus();
}

async function usersView(params) {
  const email = params.get('email') ?? '';
  const status = params.get('status') ?? '';
  const page = Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1);
  const search = field('Search by e-mail', (id) => h('input', {
    id, type: 'search', name: 'email', value: email, autocomplete: 'off',
  }), 'The whole address.');
  const filter = field('Status', (id) => select(id, [
    ['', 'Any'], ['active', 'Active'], ['pending_deletion', 'Deletion scheduled'], ['held', 'Legal hold'],
  ], status));
  const form = h('form', {
    role: 'search',
    'aria-label': 'Users',
    onsubmit: (event) => {
      event.preventDefault();
      const next = new URLSearchParams();
      if (search.control.value.trim()) next.set('email', search.control.value.trim());
      if (filter.control.value) next.set('status', filter.control.value);
      location.hash = `#/users?${next}`;
    },
  }, search.node, filter.node, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Search')));
  const query = new URLSearchParams({ page, per_page: PER_PAGE });
  if (email) query.set('email', email);
  if (status) query.set('status', status);
  const { data, total } = await api('GET', `users?${query}`);
  const hrefOf = (n) => {
    const next = new URLSearchParams(params);
    next.set('page', n);
    return `#/users?${next}`;
  };
  return [
    heading('Users'),
    form,
    table('Users', ['E-mail', 'Created', 'Deletion'], data.map((user) => [
      userLink(user), time(user.created_at), h('span', { class: 'wrap' }, deletionSummary(user.deletion)),
    ]), email || status ? 'No user matches.' : 'No users yet.'),
    pager(page, total, hrefOf),
  ];
}

function deletionSummary(deletion) {
  if (!deletion) return 'Not scheduled';
  const parts = [];
  if (deletion.purge_after) parts.push(`Purge after ${time(deletion.purge_after)} (${timeLeft(deletion.purge_after)})`);
  if (deletion.hold) parts.push(deletion.hold_reason ? `Legal hold: ${deletion.hold_reason}` : 'Legal hold');
  return parts.join('; ') || 'Not scheduled';
}

async function userView(id) {
  const [{ data: user }, { data: sessions }] = await Promise.all([
    api('GET', `users/${id}`),
    api('GET', `users/${id}/sessions`),
  ]);
  const name = userName(user);
  const deletion = user.deletion;
  const scheduled = Boolean(deletion?.scheduled_at);
  const held = Boolean(deletion?.hold);
  const confirmArea = h('div', {});

  const placeHold = h('button', {
    type: 'button',
    class: 'quiet',
    onclick: () => {
      const reason = field('Reason', (fid) => h('textarea', { id: fid, rows: 2, maxlength: 1000 }),
        'Why the account must be kept, e.g. a case number. Up to 1000 characters.');
      const confirm = h('button', { type: 'submit' }, 'Confirm legal hold');
      confirmArea.replaceChildren(h('form', {
        class: 'stacked',
        'aria-label': 'Place legal hold',
        onsubmit: (event) => {
          event.preventDefault();
          act(confirm, async () => {
            const text = reason.control.value.trim();
            await api('PUT', `users/${id}/hold`, text ? { hold: true, reason: text } : { hold: true });
            return `Legal hold placed on ${name}.`;
          });
        },
      }, reason.node, h('div', { class: 'actions' }, confirm,
        h('button', { type: 'button', class: 'quiet', onclick: () => confirmArea.replaceChildren() }, 'Cancel'))));
      reason.control.focus();
    },
  }, 'Place legal hold');

  const deleteUser = h('button', {
    type: 'button',
    class: 'danger',
    onclick: () => {
      const expected = user.email ?? user.id;
      const what = user.email ? 'primary e-mail' : 'user id';
      const typed = field(`Type the ${what} to confirm`, (fid) => h('input', {
        id: fid, type: 'text', autocomplete: 'off', spellcheck: 'false',
      }), `Deleting removes the user, their e-mails and sessions now, whatever is scheduled. Type ${expected}.`);
      const confirm = h('button', { type: 'submit', class: 'danger', disabled: true }, 'Delete permanently');
      typed.control.addEventListener('input', () => {
        confirm.disabled = typed.control.value.trim() !== expected;
      });
      confirmArea.replaceChildren(h('form', {
        class: 'stacked',
        'aria-label': 'Delete user',
        onsubmit: async (event) => {
          event.preventDefault();
          if (typed.control.value.trim() !== expected) return;
          confirm.disabled = true;
          try {
            await api('DELETE', `users/${id}`);
            afterNavigation = `${name} was deleted.`;
            location.hash = '#/users';
          } catch (error) {
            if (error.status !== 401) fail(error.message);
            confirm.disabled = false;
          }
        },
      }, typed.node, h('div', { class: 'actions' }, confirm,
        h('button', { type: 'button', class: 'quiet', onclick: () => confirmArea.replaceChildren() }, 'Cancel'))));
      typed.control.focus();
    },
  }, 'Delete user');

  const restore = h('button', {
    type: 'button',
    onclick: () => act(restore, async () => {
      await api('POST', `users/${id}/restore`);
      return `The deletion of ${name} was cancelled.`;
    }),
  }, 'Restore');
  const release = h('button', {
    type: 'button',
    class: 'quiet',
    onclick: () => act(release, async () => {
      await api('PUT', `users/${id}/hold`, { hold: false });
      return `The legal hold on ${name} was released.`;
    }),
  }, 'Release hold');
  const exportData = h('button', {
    type: 'button',
    class: 'quiet',
    onclick: async () => {
      quiet();
      try {
        const { data } = await api('GET', `users/${id}/export`);
        const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
        const link = h('a', { href: url, download: `user-${id}.json`, hidden: true });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
        say(`The export of ${name} was downloaded.`);
      } catch (error) {
        if (error.status !== 401) fail(error.message);
      }
    },
  }, 'Export');

  const revokeAll = h('button', {
    type: 'button',
    class: 'quiet',
    disabled: sessions.length === 0,
    onclick: () => act(revokeAll, async () => {
      await api('DELETE', `users/${id}/sessions`);
      return `Every session of ${name} was revoked.`;
    }),
  }, 'Revoke all sessions');

  return [
    heading(name),
    h('section', { 'aria-labelledby': 'account-heading' },
      h('h2', { id: 'account-heading' }, 'Account'),
      h('dl', {},
        h('dt', {}, 'User id'), h('dd', { class: 'mono' }, user.id),
        h('dt', {}, 'Created'), h('dd', {}, time(user.created_at)),
        h('dt', {}, 'Updated'), h('dd', {}, time(user.updated_at)),
        h('dt', {}, 'Last active'), h('dd', {}, time(user.last_active_at)),
        user.inactivity_warned_at
          ? [h('dt', {}, 'Inactivity warning'), h('dd', {}, `Sent ${time(user.inactivity_warned_at)}`)] : null,
        h('dt', {}, 'State'), h('dd', {}, user.deactivated_at
          ? `Deactivated by its identity provider since ${time(user.deactivated_at)}` : 'Active'),
        user.username ? [h('dt', {}, 'Username'), h('dd', { class: 'wrap' }, user.username)] : null,
        user.external_id ? [h('dt', {}, 'External id'), h('dd', { class: 'mono wrap' }, user.external_id)] : null),
      h('h3', {}, 'E-mails'),
      user.emails.length === 0 ? h('p', {}, 'No e-mail addresses.')
        : h('ul', { class: 'plain' }, user.emails.map((e) => h('li', {}, e.address,
          e.is_primary ? ' (primary)' : '', e.is_verified ? ' (verified)' : ' (not verified)'))),
      h('div', { class: 'actions' }, exportData)),
    h('section', { 'aria-labelledby': 'deletion-heading' },
      h('h2', { id: 'deletion-heading' }, 'Deletion'),
      h('dl', {},
        h('dt', {}, 'State'), h('dd', {}, scheduled ? 'Deletion scheduled' : 'Not scheduled for deletion'),
        scheduled ? [h('dt', {}, 'Scheduled'), h('dd', {}, time(deletion.scheduled_at))] : null,
        scheduled ? [h('dt', {}, 'Purge after'),
          h('dd', {}, `${time(deletion.purge_after)} (${timeLeft(deletion.purge_after)})`)] : null,
        h('dt', {}, 'Legal hold'),
        h('dd', {}, held ? `Held${deletion.hold_reason ? `: ${deletion.hold_reason}` : ' (no reason given)'}` : 'None')),
      h('div', { class: 'actions' },
        scheduled ? restore : null,
        held ? release : placeHold,
        deleteUser),
      confirmArea),
    h('section', { 'aria-labelledby': 'sessions-heading' },
      h('h2', { id: 'sessions-heading' }, 'Sessions'),
      table('Active sessions', ['Action', 'Created', 'Last used', 'Expires', 'User agent', 'IP address'],
        sessions.map((s) => {
          const revoke = h('button', {
            type: 'button',
            class: 'quiet',
            'aria-describedby': `session-${s.id}`,
            onclick: () => act(revoke, async () => {
              await api('DELETE', `users/${id}/sessions/${s.id}`);
              return 'The session was revoked.';
            }),
          }, 'Revoke');
          return [
            revoke, h('span', { id: `session-${s.id}` }, time(s.created_at)), time(s.last_used), time(s.expires_at),
            h('span', { class: 'wrap' }, s.user_agent ?? '—'), s.ip_address ?? '—',
          ];
        }), 'No active sessions.'),
      h('div', { class: 'actions' }, revokeAll)),
  ];
}

async function queueView() {
  const scheduled = [];
  for (let page = 1; ; page += 1) {
    const { data, total } = await api('GET', `users?status=pending_deletion&per_page=1000&page=${page}`);
    scheduled.push(...data);
    if (scheduled.length >= total || data.length === 0) break;
  }
  scheduled.sort((a, b) => Date.parse(a.deletion.purge_after) - Date.parse(b.deletion.purge_after));
  let preview = null;
  try {
    ({ data: preview } = await api('GET', 'retention/preview'));
  } catch (e) {
    // 409: no inactivity policy is configured; anything else is the view's failure.
    if (!(e instanceof ApiFailure && e.status === 409)) throw e;
  }
  return [
    heading('Deletion queue'),
    h('p', { class: 'hint' }, 'Users whose deletion is scheduled, the next purge first. A held user is kept until the hold is released.'),
    table('Scheduled deletions', ['User', 'Scheduled', 'Purge after', 'Time left', 'Legal hold'],
      scheduled.map((user) => [
        userLink(user),
        time(user.deletion.scheduled_at),
        time(user.deletion.purge_after),
        user.deletion.hold ? 'held' : timeLeft(user.deletion.purge_after),
        h('span', { class: 'wrap' }, user.deletion.hold ? `Held${user.deletion.hold_reason ? `: ${user.deletion.hold_reason}` : ''}` : '—'),
      ]), 'No deletion is scheduled.'),
    h('section', { 'aria-labelledby': 'retention-heading' },
      h('h2', { id: 'retention-heading' }, 'Inactive accounts'),
      preview === null
        ? h('p', {}, 'No inactivity policy is configured (account.retention.inactive_after).')
        : [
          h('p', {}, `A pass now would warn ${preview.warn} and delete ${preview.delete} `
            + `${preview.warn + preview.delete === 1 ? 'user' : 'users'}, at the policy's pace. Held accounts are never selected.`),
          table('What the inactivity policy would do now', ['User', 'Action', 'Last active', 'Warned'],
            preview.users.map((user) => [
              h('a', { href: `#/users/${user.id}` }, user.email ?? user.id),
              user.action === 'delete' ? 'Delete' : 'Warn',
              time(user.last_active_at),
              time(user.inactivity_warned_at),
            ]), 'Nobody is due.'),
        ]),
  ];
}

async function deliveriesView() {
  const [dead, pending] = await Promise.all([
    api('GET', 'webhooks/deliveries?status=dead&per_page=100'),
    api('GET', 'webhooks/deliveries?status=pending&per_page=100'),
  ]);
  const retryAll = h('button', {
    type: 'button',
    disabled: dead.total === 0,
    onclick: () => act(retryAll, async () => {
      const { data } = await api('POST', 'webhooks/deliveries/retry', { status: 'dead' });
      return `${data.retried} dead ${data.retried === 1 ? 'delivery is' : 'deliveries are'} pending again.`;
    }),
  }, 'Retry all dead');
  const row = (d, id) => [
    d.event, h('span', { class: 'mono', id }, d.event_id), d.hook, String(d.attempts),
    h('span', { class: 'wrap' }, d.last_error ?? '—'),
  ];
  const shown = (list, what) => (list.total > list.data.length
    ? h('p', { class: 'hint' }, `The ${list.data.length} oldest of ${list.total} ${what} deliveries.`) : null);
  return [
    heading('Deliveries'),
    h('section', { 'aria-labelledby': 'dead-heading' },
      h('h2', { id: 'dead-heading' }, `Dead (${dead.total})`),
      h('p', { class: 'hint' }, 'Deliveries that ran out of attempts. Retrying makes them pending again, from attempt 0.'),
      h('div', { class: 'actions' }, retryAll),
      table('Dead deliveries', ['Action', 'Event', 'Event id', 'Hook', 'Attempts', 'Last error'],
        dead.data.map((d) => {
          const retry = h('button', {
            type: 'button',
            class: 'quiet',
            'aria-describedby': `dead-${d.event_id}-${d.hook}`,
            onclick: () => act(retry, async () => {
              const { data } = await api('POST', 'webhooks/deliveries/retry', { status: 'dead', hook: d.hook, event_id: d.event_id });
              return data.retried ? `The ${d.event} delivery to ${d.hook} is pending again.` : 'That delivery was no longer dead.';
            }),
          }, 'Retry');
          return [retry, ...row(d, `dead-${d.event_id}-${d.hook}`)];
        }), 'No dead deliveries.'),
      shown(dead, 'dead')),
    h('section', { 'aria-labelledby': 'pending-heading' },
      h('h2', { id: 'pending-heading' }, `Pending (${pending.total})`),
      table('Pending deliveries', ['Event', 'Event id', 'Hook', 'Attempts', 'Last error', 'Next attempt'],
        pending.data.map((d) => [...row(d), time(d.next_attempt_at)]), 'Nothing is waiting to be delivered.'),
      shown(pending, 'pending')),
  ];
}

async function auditView(params) {
  const type = params.get('type') ?? '';
  const user = params.get('user') ?? '';
  const page = Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1);
  const typeField = field('Type', (id) => h('input', {
    id, type: 'text', name: 'type', value: type, autocomplete: 'off', list: 'audit-types',
  }), 'e.g. user_deleted');
  const userField = field('User id', (id) => h('input', {
    id, type: 'text', name: 'user', value: user, autocomplete: 'off', spellcheck: 'false',
  }));
  const types = h('datalist', { id: 'audit-types' }, [
    'user_deleted', 'user_deletion_scheduled', 'user_deletion_cancelled', 'user_hold_set',
    'user_hold_released', 'user_sessions_revoked', 'webhook_deliveries_retried',
    'ssf_receiver_created', 'ssf_receiver_deleted', 'ssf_stream_created', 'ssf_stream_updated',
    'ssf_stream_status_changed', 'ssf_stream_deleted', 'ssf_subject_added', 'ssf_subject_removed',
  ].map((t) => h('option', { value: t })));
  const form = h('form', {
    role: 'search',
    'aria-label': 'Audit log',
    onsubmit: (event) => {
      event.preventDefault();
      const next = new URLSearchParams();
      if (typeField.control.value.trim()) next.set('type', typeField.control.value.trim());
      if (userField.control.value.trim()) next.set('user', userField.control.value.trim());
      location.hash = `#/audit?${next}`;
    },
  }, typeField.node, userField.node, types, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Filter')));
  if (user && !UUID.test(user)) {
    return [heading('Audit log'), form, h('p', {}, 'A user id is a UUID, like 3f2c…-…; nothing to show.')];
  }
  const query = new URLSearchParams({ page, per_page: PER_PAGE });
  if (type) query.set('type', type);
  if (user) query.set('actor_user_id', user);
  const { data, total } = await api('GET', `audit_logs?${query}`);
  return [
    heading('Audit log'),
    form,
    table('Audit log entries', ['Time', 'Type', 'User', 'Request', 'Details'], data.map((entry) => [
      time(entry.created_at),
      entry.type,
      entry.actor_user_id
        ? [entry.actor_email ?? '', entry.actor_email ? ' ' : '', h('span', { class: 'mono' }, entry.actor_user_id)]
        : (entry.actor_email ?? '—'),
      h('span', { class: 'mono' }, entry.meta_http_request_id ?? '—'),
      h('code', {}, JSON.stringify(entry.details)),
    ]), 'No entries match.'),
    pager(page, total, (n) => {
      const next = new URLSearchParams(params);
      next.set('page', n);
      return `#/audit?${next}`;
    }),
  ];
}

async function keysView() {
  const { data: keys } = await api('GET', 'jwks');
  const confirmArea = h('div', {});
  const rotate = h('button', {
    type: 'button',
    onclick: () => {
      const staged = h('button', {
        type: 'button',
        onclick: () => act(staged, async () => {
          const { data } = await api('POST', 'jwks/rotate?staged=true');
          return `Key ${data.kid} is published and signs from ${time(data.not_before)}.`;
        }),
      }, 'Publish now, sign later');
      const now = h('button', {
        type: 'button',
        class: 'danger',
        onclick: () => act(now, async () => {
          const { data } = await api('POST', 'jwks/rotate');
          return `Key ${data.kid} was added and signs from now.`;
        }),
      }, 'Sign now');
      confirmArea.replaceChildren(h('div', { role: 'group', 'aria-label': 'Rotate key' },
        h('p', {}, '"Publish now, sign later": the new key is in the JWKS at once and signs after '
          + 'secrets.rotation.publish_ahead, so no client with a cached JWKS meets an unknown key.'),
        h('p', {}, '"Sign now" is for a leaked key: the new key signs at once, and clients with a '
          + 'cached JWKS must fetch it again to verify new tokens.'),
        h('div', { class: 'actions' }, staged, now,
          h('button', { type: 'button', class: 'quiet', onclick: () => confirmArea.replaceChildren() }, 'Cancel'))));
      staged.focus();
    },
  }, 'Rotate key');
  return [
    heading('Keys'),
    h('p', { class: 'hint' }, 'The keys that sign session tokens and events; published ones are in /.well-known/jwks.json.'),
    table('Signing keys', ['Key id', 'Algorithm', 'Created', 'Signs from', 'Retired', 'Published', 'Signing'],
      keys.map((k) => [
        h('span', { class: 'mono' }, k.kid), k.alg, time(k.created_at), time(k.not_before),
        time(k.retired_at), k.published ? 'yes' : 'no', k.signing ? 'yes' : 'no',
      ]), 'No keys yet.'),
    h('div', { class: 'actions' }, rotate),
    confirmArea,
  ];
}

async function scimView() {
  const { data: clients } = await api('GET', 'scim/clients');
  const created = h('div', {});
  const name = field('Name', (fid) => h('input', { id: fid, type: 'text', required: true, maxlength: 200 }),
    'Which identity provider it is, e.g. entra-id. Up to 200 characters.');
  const create = h('button', { type: 'submit' }, 'Create client');
  const form = h('form', {
    class: 'stacked',
    'aria-label': 'Create SCIM client',
    onsubmit: async (event) => {
      event.preventDefault();
      quiet();
      create.disabled = true;
      try {
        const { data } = await api('POST', 'scim/clients', { name: name.control.value.trim() });
        const token = h('output', { class: 'mono wrap', id: 'scim-token' }, data.token);
        await show({ keepMessages: true });
        document.getElementById('scim-created')?.replaceChildren(
          h('p', {}, `The token of ${data.name}, shown this once: give it to the provider as its bearer token.`),
          token);
        say(`SCIM client ${data.name} was created.`);
      } catch (error) {
        if (error.status !== 401) fail(error.message);
        create.disabled = false;
      }
    },
  }, name.node, h('div', { class: 'actions' }, create));
  created.id = 'scim-created';
  return [
    heading('SCIM clients'),
    h('p', { class: 'hint' }, 'Identity providers that create, deactivate and delete users at /scim/v2 (with scim.enabled).'),
    created,
    table('SCIM clients', ['Action', 'Name', 'Created', 'Id'],
      clients.map((c) => {
        const revoke = h('button', {
          type: 'button',
          class: 'quiet',
          'aria-describedby': `client-${c.id}`,
          onclick: () => act(revoke, async () => {
            await api('DELETE', `scim/clients/${c.id}`);
            return `SCIM client ${c.name} was revoked; its token no longer works.`;
          }),
        }, 'Revoke');
        return [revoke, h('span', { id: `client-${c.id}`, class: 'wrap' }, c.name), time(c.created_at),
          h('span', { class: 'mono' }, c.id)];
      }), 'No SCIM clients.'),
    form,
  ];
}

// ---- routing -------------------------------------------------------------------------------

const routes = [
  [/^#\/users\/([0-9a-f-]{36})$/i, 'Users', (m) => userView(m[1])],
  [/^#\/users(?:\?(.*))?$/, 'Users', (m) => usersView(new URLSearchParams(m[1] ?? ''))],
  [/^#\/queue$/, 'Deletion queue', () => queueView()],
  [/^#\/deliveries$/, 'Deliveries', () => deliveriesView()],
  [/^#\/audit(?:\?(.*))?$/, 'Audit log', (m) => auditView(new URLSearchParams(m[1] ?? ''))],
  [/^#\/keys$/, 'Keys', () => keysView()],
  [/^#\/scim$/, 'SCIM clients', () => scimView()],
];

/** Draws the view the address names. */
async function show({ keepMessages = false, focus = false } = {}) {
  const mine = ++generation;
  if (!keepMessages) quiet();
  const hash = location.hash || '#/users';
  const found = routes.map(([pattern, nav, build]) => [hash.match(pattern), nav, build]).find(([m]) => m);
  if (!found) {
    location.replace('#/users');
    return;
  }
  const [match, nav, build] = found;
  for (const link of document.querySelectorAll('nav[aria-label="Console"] a')) {
    if (link.textContent === nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${nav} · Console · hanko-rs`;
  try {
    const nodes = await build(match);
    if (mine !== generation || signedOut) return;
    render(nodes);
    if (afterNavigation) {
      say(afterNavigation);
      afterNavigation = null;
    }
    if (focus) regions.view.querySelector('h1')?.focus();
  } catch (error) {
    if (mine !== generation || error.status === 401) return;
    render(heading(nav), h('p', {}, 'This view could not be loaded.'));
    fail(error.message);
  }
}

regions.signOut.addEventListener('click', () => {
  sessionStorage.removeItem(KEY_STORE);
  signIn(null);
  say('Signed out.');
});

window.addEventListener('hashchange', () => {
  if (!signedOut) show({ focus: true });
});

(async function start() {
  try {
    await api('GET', 'users?per_page=1');
  } catch (error) {
    if (error.status !== 401) {
      render(heading('Console'), h('p', {}, 'The admin API could not be reached from this page.'));
      fail(error.message);
    }
    return;
  }
  signedOut = false;
  regions.signOut.hidden = sessionStorage.getItem(KEY_STORE) === null;
  await show();
}());
