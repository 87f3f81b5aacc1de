/**
 * The web app's account pages in a real Chromium, against a real Skyvault (issue 13):
 * - the header names the signed-in user and their role; the Users and Workspaces links show only to
 *   those who manage them;
 * - a server administrator creates a workspace (and its first administrator through "Manage users"),
 *   edits it, and deletes it by typing its name, the row going once the background deletion is over;
 * - an administrator creates an operator and a viewer (each generated password shown once), changes a
 *   role, disables a user (whose login then fails with the server's message), resets a password and an
 *   MQTT password (shown once), regenerates the dock bind code and removes a user;
 * - a viewer, in a second browser context, sees media and devices without any delete, unbind or Users
 *   link; a device account cannot sign in to the web app;
 * - the administrator changes their own password (the server's refusals shown, other sessions ended)
 *   and logs out.
 * Screenshots of the Users and Workspaces pages and of the password dialog (desktop and tablet, English
 * and Chinese) go to test-output/screenshots/.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { simulatePilot } from '../../src/simulate/pilot.ts';
import { launchChromium, SHOTS } from '../helpers/browser.ts';
import { connectDock, mqttAccountOf, type TestDock } from '../helpers/dock.ts';
import { ADMIN_PASSWORD, startLoggedInApp, type TestApp } from '../helpers/test-app.ts';

const WEB_BUILD = path.resolve(import.meta.dirname, '../../dist/web/index.html');
const SIZES = [
  { name: 'desktop', width: 1440, height: 900 },
  { name: 'tablet', width: 820, height: 1180 },
];
const DOCK = 'DOCKACCOUNTS0001';
const NEW_ADMIN_PASSWORD = 'a-new-admin-password-42';
const WORKSPACE = 'Survey team Nord';

interface Account {
  user_id: string;
  username: string;
  role: string;
  disabled: boolean;
  sessions: number;
}

describe('the account pages', () => {
  let t: TestApp;
  let token: string;
  let ws: string;
  let base: string;
  let browser: Browser;
  let page: Page;
  let dock: TestDock | undefined;
  const errors: string[] = [];
  /** The generated passwords, by username, as the page showed them. */
  const passwords = new Map<string, string>();
  let skewMs = 0;

  const api = async (method: string, url: string, as = token, payload?: unknown) => {
    const response = await t.inject({
      method,
      url,
      headers: { 'x-auth-token': as },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
    return {
      status: response.statusCode,
      ...(response.json() as { code: number; message: string; data: unknown }),
    };
  };
  const users = async (): Promise<Account[]> =>
    ((await api('GET', `/api/v1/workspaces/${ws}/users`)).data as { list: Account[] }).list;
  const userNamed = async (name: string) => (await users()).find((u) => u.username === name);
  /** Logs in through the API (flag 1: the web), answering the envelope. */
  const apiLogin = async (username: string, password: string) =>
    (
      await t.inject({
        method: 'POST',
        url: '/manage/api/v1/login',
        payload: { username, password, flag: 1 },
      })
    ).json() as { code: number; message: string; data?: { access_token: string; mqtt_password?: string } };

  async function newContext(): Promise<{ context: BrowserContext; page: Page }> {
    // Playwright's string predicates need `new Function`, which the app's CSP forbids (web-app.test.ts
    // checks the app under its CSP).
    const context = await browser.newContext({ viewport: SIZES[0], locale: 'en-US', bypassCSP: true });
    const p = await context.newPage();
    p.setDefaultTimeout(10_000);
    p.on('pageerror', (error) => errors.push(error.message));
    return { context, page: p };
  }

  async function signIn(p: Page, username: string, password: string) {
    await p.goto(base);
    await p.fill('input[name=username]', username);
    await p.fill('input[name=password]', password);
    await p.click('button[type=submit]');
  }

  /** Screenshots at both sizes, named with the language. */
  async function shoot(p: Page, name: string, language: 'en' | 'zh') {
    for (const size of SIZES) {
      await p.setViewportSize(size);
      await p.waitForTimeout(300);
      await p.screenshot({ path: path.join(SHOTS, `web-accounts-${name}-${size.name}-${language}.png`) });
    }
    await p.setViewportSize(SIZES[0]!);
  }

  const row = (name: string) => page.locator(`.account-row[data-username="${name}"]`);
  const workspaceRow = (name: string) => page.locator(`.workspace-row[data-workspace-name="${name}"]`);
  /**
   * Waits for the toast that says `expected` (a toast left from the previous step may still show on a
   * slow machine: this one is waited for, not the first one there); fails the test if it never comes.
   */
  const toast = async (expected: RegExp, p: Page = page) => {
    await p.waitForFunction(
      `new RegExp(${JSON.stringify(expected.source)}, ${JSON.stringify(expected.flags)}).test(document.querySelector('.toast')?.textContent ?? '')`,
    );
    return (await p.textContent('.toast')) ?? '';
  };
  /** Waits for the toast to go, so that the next one is read fresh. */
  const noToast = (p: Page = page) => p.waitForSelector('.toast', { state: 'detached', timeout: 15_000 });

  /** Creates a user from the open Users page; answers the password the page showed once. */
  async function createUser(username: string, role: string): Promise<string> {
    await page.fill('input[name=new_username]', username);
    await page.selectOption('select[name=new_role]', role);
    await page.click('[data-testid=new-user] button[type=submit]');
    await page.waitForSelector('[data-testid=secret-dialog]');
    const dialog = (await page.textContent('[data-testid=secret-dialog]')) ?? '';
    assert.match(dialog, new RegExp(`${username} was added`));
    assert.match(dialog, /Copy it now: it will not be shown again/);
    const password = await page.inputValue('[data-testid=secret-dialog] input[name=password]');
    assert.equal(await page.inputValue('[data-testid=secret-dialog] input[name=username]'), username);
    assert.ok(password.length >= 10, `a generated password (${password})`);
    if (username === 'olivia') await shoot(page, 'password-once', 'en');
    await page.click('[data-testid=secret-dialog] >> text=Done');
    await page.waitForSelector('[data-testid=secret-dialog]', { state: 'detached' });
    await row(username).waitFor();
    // Shown once: nowhere on the page any more.
    assert.ok(!(await page.content()).includes(password), 'the password is not shown again');
    passwords.set(username, password);
    return password;
  }

  before(async () => {
    assert.ok(existsSync(WEB_BUILD), 'the web app is not built: npm run build:web (npm ci does it)');
    // The clock jumps forward once, for a deleted workspace's upload credentials to have expired.
    ({ t, token, ws } = await startLoggedInApp({ now: () => Date.now() + skewMs }));
    base = `http://127.0.0.1:${(t.app.http.server.address() as { port: number }).port}`;
    // Media for the viewer's library, and a dock for the viewer's devices page.
    const summary = await simulatePilot({
      url: base,
      username: 'admin',
      password: ADMIN_PASSWORD,
      files: 3,
      out: () => {},
    });
    assert.equal(summary.failed, 0);
    await t.app.enricher.idle();
    dock = await connectDock(`mqtt://127.0.0.1:${t.app.broker!.port}`, DOCK, await mqttAccountOf(t, token));
    const topology = { domain: 3, type: 1, sub_type: 0, thing_version: '1.1.2', sub_devices: [] };
    assert.equal((await dock.send('status', 'update_topo', topology))?.data.result, 0);
    browser = await launchChromium();
    ({ page } = await newContext());
  });
  after(async () => {
    await dock?.close().catch(() => undefined);
    await browser?.close();
    await t?.close();
    assert.deepEqual(errors, [], 'no error in the page');
  });

  it('names the signed-in administrator and their role, with the Users and Workspaces links', async () => {
    await signIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForSelector('[data-testid=account-button]');
    assert.match((await page.textContent('[data-testid=account-button]')) ?? '', /admin\s*Administrator/);
    await page.click('[data-testid=account-button]');
    const menu = (await page.textContent('[data-testid=account-menu]')) ?? '';
    assert.match(menu, /Administrator · Server administrator/);
    assert.match(menu, /Change password/);
    assert.match(menu, /Log out/);
    await page.keyboard.press('Escape');
    await page.waitForSelector('[data-testid=account-menu]', { state: 'detached' });
    assert.ok(await page.isVisible('.tab:has-text("Users")'));
    assert.ok(await page.isVisible('.tab:has-text("Workspaces")'));
  });

  it('creates a workspace, edits it and creates its first administrator', async () => {
    await page.click('.tab:has-text("Workspaces")');
    await page.waitForSelector('[data-testid=workspaces] .workspace-row');
    const own = page.locator(`.workspace-row[data-workspace-id="${ws}"]`);
    assert.match((await own.textContent()) ?? '', /Default.*Yours/);
    assert.ok(await own.locator('button:has-text("Delete")').isDisabled(), 'the default workspace stays');

    await page.fill('[data-testid=new-workspace] input[name=workspace_name]', WORKSPACE);
    await page.fill('[data-testid=new-workspace] textarea[name=workspace_description]', 'Northern sites');
    await page.click('[data-testid=new-workspace] button[type=submit]');
    await workspaceRow(WORKSPACE).waitFor();
    await toast(/Workspace “Survey team Nord” created/);
    assert.match((await workspaceRow(WORKSPACE).textContent()) ?? '', /Northern sites.*0 users.*0 devices/);
    assert.ok(await workspaceRow(WORKSPACE).locator('button:has-text("Delete")').isEnabled());

    await workspaceRow(WORKSPACE).locator('button:has-text("Edit")').click();
    await page.waitForSelector('[data-testid=edit-workspace]');
    await page.fill('[data-testid=edit-workspace] textarea', 'Northern survey sites, 2026');
    await page.click('[data-testid=edit-workspace] button[type=submit]');
    await page.waitForSelector('[data-testid=edit-workspace]', { state: 'detached' });
    await page.waitForSelector(`.workspace-row:has-text("Northern survey sites, 2026")`);
    const created = (
      (await api('GET', '/api/v1/workspaces')).data as {
        list: { workspace_id: string; name: string; description: string }[];
      }
    ).list.find((w) => w.name === WORKSPACE);
    assert.equal(created?.description, 'Northern survey sites, 2026');

    // Its users, as a server administrator manages them.
    await workspaceRow(WORKSPACE).locator('text=Manage users').click();
    await page.waitForURL(new RegExp(`/workspaces/${created!.workspace_id}/users$`));
    await page.waitForSelector('text=No user in this workspace yet');
    assert.match((await page.textContent('[data-testid=users-workspace]')) ?? '', /of Survey team Nord/);
    assert.ok(await page.isVisible('.tab.active:has-text("Workspaces")'));
    await createUser('nord-admin', 'administrator');
    const list = (await api('GET', `/api/v1/workspaces/${created!.workspace_id}/users`)).data as {
      list: Account[];
    };
    assert.deepEqual(
      list.list.map((u) => [u.username, u.role]),
      [['nord-admin', 'administrator']],
    );
    assert.equal((await apiLogin('nord-admin', passwords.get('nord-admin')!)).code, 0);
    await page.click('text=All workspaces');
    await page.waitForURL(/\/workspaces$/);
    await page.waitForSelector(`.workspace-row[data-workspace-name="${WORKSPACE}"]:has-text("1 user")`);
  });

  it('creates an operator and a viewer, each generated password shown once', async () => {
    await page.click('.tab:has-text("Users")');
    await page.waitForSelector('[data-testid=users] .account-row');
    assert.match((await row('admin').textContent()) ?? '', /admin.*You.*Server administrator.*Enabled/);
    // One's own account cannot be demoted, disabled or removed.
    assert.ok(await row('admin').locator('select[name=role]').isDisabled());
    assert.ok(await row('admin').locator('button:has-text("Disable")').isDisabled());
    assert.ok(await row('admin').locator('button:has-text("Remove")').isDisabled());

    await page.selectOption('select[name=new_role]', 'viewer');
    assert.match((await page.textContent('[data-testid=role-help]')) ?? '', /changes nothing/);
    await createUser('olivia', 'operator');
    await createUser('victor', 'viewer');
    assert.match((await row('olivia').textContent()) ?? '', /MQTT account\s*olivia.*Not signed in.*Created/);
    assert.equal(await row('olivia').locator('select[name=role]').inputValue(), 'operator');
    assert.equal(await row('victor').locator('select[name=role]').inputValue(), 'viewer');
    assert.deepEqual(
      (await users()).map((u) => [u.username, u.role, u.disabled]),
      [
        ['admin', 'administrator', false],
        ['olivia', 'operator', false],
        ['victor', 'viewer', false],
      ],
    );
    // A name taken: the server's reason.
    await page.fill('input[name=new_username]', 'olivia');
    await page.click('[data-testid=new-user] button[type=submit]');
    await page.waitForSelector('[data-testid=new-user-error]');
    assert.match(
      (await page.textContent('[data-testid=new-user-error]')) ?? '',
      /could not be added: A user \(or device account\) with this name exists already/,
    );
    await page.fill('input[name=new_username]', '');
  });

  it('shows a viewer the library and devices with nothing to delete, and no Users link', async () => {
    const viewer = await newContext();
    try {
      const p = viewer.page;
      await signIn(p, 'victor', passwords.get('victor')!);
      await p.waitForSelector('.tile img');
      assert.match((await p.textContent('[data-testid=account-button]')) ?? '', /victor\s*Viewer/);
      assert.equal(await p.locator('.tab:has-text("Users")').count(), 0, 'no Users link');
      assert.equal(await p.locator('.tab:has-text("Workspaces")').count(), 0, 'no Workspaces link');
      // Selecting offers the zip, not deleting.
      await p.locator('.tile').first().hover();
      await p.locator('.tile-check input').first().check();
      await p.waitForSelector('[data-testid=selection-bar]');
      assert.ok(await p.isVisible('[data-testid=selection-bar] >> text=Download as zip'));
      assert.equal(await p.locator('[data-testid=selection-bar] >> text=Delete').count(), 0);
      await p.click('text=Clear selection');
      // The detail offers the download, not deleting.
      await p.locator('.tile-open').first().click();
      await p.waitForSelector('.detail-actions >> text=Download');
      assert.equal(await p.locator('.detail-actions >> text=Delete').count(), 0);
      await p.keyboard.press('Escape');
      // Devices: listed, not unbound, nothing bound.
      await p.click('.tab:has-text("Devices")');
      await p.waitForSelector(`[data-gateway-sn="${DOCK}"]`);
      assert.equal(await p.locator(`[data-gateway-sn="${DOCK}"] >> text=Unbind`).count(), 0);
      assert.equal(await p.locator('[data-testid=bind-form]').count(), 0);
      // The Users page itself says it is not theirs.
      await p.evaluate(`history.pushState(null, '', '/users'); dispatchEvent(new PopStateEvent('popstate'))`);
      await p.waitForSelector('text=Only the workspace’s administrators');
      assert.equal(await p.locator('[data-testid=users]').count(), 0);
      // The server agrees.
      const victor = (await apiLogin('victor', passwords.get('victor')!)).data!.access_token;
      const refused = await api('GET', `/api/v1/workspaces/${ws}/users`, victor);
      assert.equal(refused.status, 403);
    } finally {
      await viewer.context.close();
    }
  });

  it('changes a role, which applies at once', async () => {
    await row('victor').waitFor();
    await row('victor').locator('select[name=role]').selectOption('operator');
    await toast(/victor is now: Operator/);
    assert.equal((await userNamed('victor'))?.role, 'operator');
    await row('victor').locator('select[name=role]:not([disabled])').waitFor();
    assert.equal(await row('victor').locator('select[name=role]').inputValue(), 'operator');

    const operator = await newContext();
    try {
      await signIn(operator.page, 'victor', passwords.get('victor')!);
      await operator.page.waitForSelector('.tile img');
      assert.match((await operator.page.textContent('[data-testid=account-button]')) ?? '', /Operator/);
      await operator.page.locator('.tile-open').first().click();
      await operator.page.waitForSelector('.detail-actions >> text=Delete');
    } finally {
      await operator.context.close();
    }
    await noToast();
  });

  it('disables a user, whose login then fails with the server’s message, and enables them again', async () => {
    await row('olivia').locator('button:has-text("Disable")').click();
    await toast(/olivia is disabled/);
    await page.waitForSelector(
      '.account-row[data-username="olivia"] [data-testid=user-status]:has-text("Disabled")',
    );
    assert.equal((await userNamed('olivia'))?.disabled, true);

    const other = await newContext();
    try {
      await signIn(other.page, 'olivia', passwords.get('olivia')!);
      await other.page.waitForSelector('.login-card .error');
      assert.equal(
        await other.page.textContent('.login-card .error'),
        'This account is disabled: ask an administrator.',
      );
    } finally {
      await other.context.close();
    }
    await noToast();
    await row('olivia').locator('button:has-text("Enable")').click();
    await toast(/olivia is enabled again/);
    await page.waitForSelector(
      '.account-row[data-username="olivia"] [data-testid=user-status]:has-text("Enabled")',
    );
    assert.equal((await apiLogin('olivia', passwords.get('olivia')!)).code, 0);
    await noToast();
  });

  it('resets a password after confirmation, shown once; the old one and its sessions end', async () => {
    const old = passwords.get('victor')!;
    const session = (await apiLogin('victor', old)).data!.access_token;
    await row('victor').locator('button:has-text("Reset password")').click();
    await page.waitForSelector('.dialog[role=alertdialog]');
    assert.match(
      (await page.textContent('.dialog[role=alertdialog]')) ?? '',
      /Reset the password of victor\?/,
    );
    await page.click('.dialog[role=alertdialog] button.danger');
    await page.waitForSelector('[data-testid=secret-dialog]');
    assert.match((await page.textContent('[data-testid=secret-dialog]')) ?? '', /New password for victor/);
    const fresh = await page.inputValue('[data-testid=secret-dialog] input[name=password]');
    assert.notEqual(fresh, old);
    await page.click('[data-testid=secret-dialog] >> text=Done');
    assert.equal((await apiLogin('victor', old)).code, 401, 'the old password no longer works');
    assert.equal((await apiLogin('victor', fresh)).code, 0, 'the new one does');
    assert.equal((await api('GET', '/manage/api/v1/users/current', session)).status, 401, 'sessions ended');
    passwords.set('victor', fresh);
  });

  it('gives a user a new MQTT password after confirmation, shown once', async () => {
    await row('olivia').locator('button:has-text("New MQTT password")').click();
    await page.click('.dialog[role=alertdialog] button.danger');
    await page.waitForSelector('[data-testid=secret-dialog]');
    assert.equal(await page.inputValue('[data-testid=secret-dialog] input[name=mqtt_username]'), 'olivia');
    const mqttPassword = await page.inputValue('[data-testid=secret-dialog] input[name=mqtt_password]');
    assert.ok(mqttPassword.length > 10);
    await page.click('[data-testid=secret-dialog] >> text=Done');
    // What Pilot 2 gets at its next login.
    const olivia = (await apiLogin('olivia', passwords.get('olivia')!)).data!;
    assert.equal(olivia.mqtt_password, mqttPassword);
  });

  it('regenerates the dock bind code after confirmation', async () => {
    const before = ((await page.textContent('[data-testid=bind-code-value]')) ?? '').trim();
    const overview = async () =>
      ((await api('GET', `/api/v1/workspaces/${ws}/overview`)).data as { workspace: { bind_code: string } })
        .workspace.bind_code;
    assert.equal(before, await overview());
    await page.click('[data-testid=bind-code] >> text=Regenerate');
    assert.match((await page.textContent('.dialog[role=alertdialog]')) ?? '', /Make a new bind code\?/);
    await page.click('.dialog[role=alertdialog] button.danger');
    await page.waitForFunction(
      `document.querySelector('[data-testid=bind-code-value]').textContent.trim() !== ${JSON.stringify(before)}`,
    );
    const after = ((await page.textContent('[data-testid=bind-code-value]')) ?? '').trim();
    assert.equal(after, await overview());
    await toast(new RegExp(`New bind code: ${after}`));
    // The connect page shows the new one too, without a reload.
    await page.click('.tab:has-text("Connect devices")');
    await page.waitForSelector(`[data-testid=connect-guide] >> text=${after}`);
    await page.click('.tab:has-text("Users")');
    await row('victor').waitFor();
    await noToast();
  });

  it('removes a user after confirmation', async () => {
    await row('olivia').locator('button:has-text("Remove")').click();
    assert.match((await page.textContent('.dialog[role=alertdialog]')) ?? '', /Remove olivia\?/);
    await page.click('.dialog[role=alertdialog] >> text=Keep');
    assert.equal(await row('olivia').count(), 1, 'Keep removes nothing');
    await row('olivia').locator('button:has-text("Remove")').click();
    await page.click('.dialog[role=alertdialog] button.danger');
    await row('olivia').waitFor({ state: 'detached' });
    assert.equal(await userNamed('olivia'), undefined);
    await toast(/olivia was removed/);
    await noToast();
  });

  it('refuses a device account at the web login, with the server’s message', async () => {
    await createUser('dock-account', 'device');
    const other = await newContext();
    try {
      await signIn(other.page, 'dock-account', passwords.get('dock-account')!);
      await other.page.waitForSelector('.login-card .error');
      assert.match(
        (await other.page.textContent('.login-card .error')) ?? '',
        /cannot log in from this client: viewers use the web app only, device accounts Pilot 2 only/,
      );
    } finally {
      await other.context.close();
    }
  });

  it('reads well in English and Chinese, at desktop and tablet sizes', async () => {
    for (const language of ['en', 'zh'] as const) {
      if (language === 'zh') {
        await page.click('.header >> text=中文');
        await page.waitForSelector('.tab:has-text("媒体库")');
      }
      await page.click('.tab >> nth=5');
      await page.waitForSelector('[data-testid=users] .account-row');
      await shoot(page, 'users', language);
      await page.click('.tab >> nth=6');
      await page.waitForSelector('[data-testid=workspaces] .workspace-row');
      await shoot(page, 'workspaces', language);
      await page.click('[data-testid=account-button]');
      await shoot(page, 'menu', language);
      await page.click('[data-testid=account-menu] button >> nth=0');
      await page.waitForSelector('[data-testid=password-dialog]');
      await page.fill('input[name=current_password]', 'x');
      await page.fill('input[name=new_password]', 'short');
      await page.fill('input[name=confirm_password]', 'short');
      await page.click('[data-testid=password-dialog] button[type=submit]');
      await page.waitForSelector('[data-testid=password-error]');
      await shoot(page, 'password', language);
      await page.keyboard.press('Escape');
      await page.waitForSelector('[data-testid=password-dialog]', { state: 'detached' });
    }
    await page.click('.header >> text=English');
    await page.waitForSelector('.tab:has-text("Users")');
  });

  it('changes one’s own password, showing the server’s refusals, and ends the other sessions', async () => {
    const otherSession = (await apiLogin('admin', ADMIN_PASSWORD)).data!.access_token;
    await page.click('.tab:has-text("Users")');
    await page.click('[data-testid=account-button]');
    await page.click('[data-testid=account-menu] >> text=Change password');
    await page.waitForSelector('[data-testid=password-dialog]');
    assert.match(
      (await page.textContent('[data-testid=password-dialog]')) ?? '',
      /Your other sessions \(other browsers, Pilot 2\) will be signed out/,
    );
    // The wrong current password: the server's message, and the session goes on.
    await page.fill('input[name=current_password]', 'not-the-password');
    await page.fill('input[name=new_password]', NEW_ADMIN_PASSWORD);
    await page.fill('input[name=confirm_password]', NEW_ADMIN_PASSWORD);
    await page.click('[data-testid=password-dialog] button[type=submit]');
    await page.waitForSelector('[data-testid=password-error]');
    assert.equal(
      await page.textContent('[data-testid=password-error]'),
      'The current password is not correct.',
    );
    assert.ok(await page.isVisible('[data-testid=account-button]'), 'still signed in');
    // Two new passwords that differ.
    await page.fill('input[name=current_password]', ADMIN_PASSWORD);
    await page.fill('input[name=confirm_password]', `${NEW_ADMIN_PASSWORD}x`);
    await page.click('[data-testid=password-dialog] button[type=submit]');
    await page.waitForSelector('[data-testid=password-error]:has-text("not the same")');
    await page.fill('input[name=confirm_password]', NEW_ADMIN_PASSWORD);
    await page.click('[data-testid=password-dialog] button[type=submit]');
    await page.waitForSelector('[data-testid=password-dialog]', { state: 'detached' });
    await toast(/Password changed\. \d+ other sessions? (was|were) signed out\./);
    assert.equal((await api('GET', '/manage/api/v1/users/current', otherSession)).status, 401);
    assert.equal((await apiLogin('admin', ADMIN_PASSWORD)).code, 401);
    // This session goes on.
    await page.goto(base);
    await page.click('.tab:has-text("Users")');
    await row('admin').waitFor();
    token = (await apiLogin('admin', NEW_ADMIN_PASSWORD)).data!.access_token;
  });

  it('logs out: the session ends on the server too', async () => {
    const stored = (await page.evaluate(`localStorage.getItem('skyvault.session')`)) as string;
    const browserToken = (JSON.parse(stored) as { token: string }).token;
    await page.click('[data-testid=account-button]');
    await page.click('[data-testid=account-menu] >> text=Log out');
    await page.waitForSelector('.login-card');
    assert.equal(await page.locator('.login-card .notice').count(), 0, 'no "session ended" notice');
    assert.equal(await page.evaluate(`localStorage.getItem('skyvault.session')`), null);
    assert.equal((await api('GET', '/manage/api/v1/users/current', browserToken)).status, 401);
  });

  it('deletes a workspace once its name is typed, and it goes when the deletion is over', async () => {
    await signIn(page, 'admin', NEW_ADMIN_PASSWORD);
    await page.waitForSelector('[data-testid=account-button]');
    await page.click('.tab:has-text("Workspaces")');
    await workspaceRow(WORKSPACE).waitFor();
    await workspaceRow(WORKSPACE).locator('button:has-text("Delete")').click();
    await page.waitForSelector('[data-testid=delete-workspace]');
    const dialog = page.locator('[data-testid=delete-workspace]');
    assert.match(
      (await dialog.textContent()) ?? '',
      /Its users \(1 user\) can no longer sign in, its devices \(0 devices\) are disconnected and unbound/,
    );
    const confirm = dialog.locator('button.danger');
    assert.ok(await confirm.isDisabled(), 'nothing typed yet');
    await dialog.locator('input[name=confirm_name]').fill('survey team nord');
    assert.ok(await confirm.isDisabled(), 'the name exactly');
    await dialog.locator('input[name=confirm_name]').fill(WORKSPACE);
    assert.ok(await confirm.isEnabled());
    await shoot(page, 'delete-workspace', 'en');
    await confirm.click();
    await page.waitForSelector('[data-testid=delete-workspace]', { state: 'detached' });
    await toast(/Deleting “Survey team Nord”/);
    // Listed as being deleted: its files go at once, its rows once the upload credentials handed out
    // before have expired (an hour by default; the server looks every minute). Then gone, the page
    // polling meanwhile.
    await page.waitForSelector(
      `.workspace-row[data-workspace-name="${WORKSPACE}"] [data-testid=workspace-deleting]`,
    );
    assert.equal(await workspaceRow(WORKSPACE).locator('button').count(), 0, 'nothing more to do with it');
    await page.waitForSelector('.toast', { state: 'detached', timeout: 15_000 });
    await shoot(page, 'workspace-deleting', 'en');
    const id = (await workspaceRow(WORKSPACE).getAttribute('data-workspace-id'))!;
    await t.app.workspaces.settled(id);
    skewMs = (t.app.config.storage.credentialTtlSeconds + 61) * 1000;
    try {
      await t.app.workspaces.finishDue();
    } finally {
      skewMs = 0;
    }
    await workspaceRow(WORKSPACE).waitFor({ state: 'detached', timeout: 30_000 });
    await page.waitForSelector('.toast:has-text("Workspace “Survey team Nord” deleted.")');
    const list = (await api('GET', '/api/v1/workspaces')).data as { list: { name: string }[] };
    assert.ok(!list.list.some((w) => w.name === WORKSPACE), 'the workspace is gone');
    assert.notEqual((await apiLogin('nord-admin', passwords.get('nord-admin')!)).code, 0, 'with its users');
  });

  // A reload or a bookmark of these pages asks the server for them: the server's list of the app's paths
  // (src/http/routes/web-app.routes.ts WEB_APP_PATHS) must name them.
  it('serves the app at its account paths when loaded directly (a reload, a bookmark)', async () => {
    for (const url of ['/users', '/workspaces', `/workspaces/${ws}/users`]) {
      const response = await fetch(`${base}${url}`);
      assert.equal(
        response.status,
        200,
        `GET ${url} answers the web app (src/http/routes/web-app.routes.ts)`,
      );
      assert.match(response.headers.get('content-type') ?? '', /text\/html/);
    }
  });
});
