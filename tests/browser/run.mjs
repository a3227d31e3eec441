// End-to-end browser check of `mamori demo` with the system Chromium (Debian's /usr/bin/chromium).
// Started by run.sh, which boots the demo server and passes:
//   MAMORI_TEST_URL       base URL printed by the demo (https, self-signed certificate)
//   MAMORI_TEST_LOGIN     login id of the demo administrator
//   MAMORI_TEST_PASSWORD  its password
//   MAMORI_TEST_TOTP      its TOTP secret (base32)
// Optional: MAMORI_TEST_CHROMIUM (browser path, default /usr/bin/chromium).
//
// Flow: / → /login → /login/totp → / ; every top-level `nav a[data-nav]` page (status < 400, an
// h1, a full-page screenshot in screenshots/) ; /healthz ; logout → /login.
// Any console error, uncaught page error or HTTP response >= 500 fails the run.
// The last line is always `browser: N passed, M failed`; exit status 1 when M > 0.

import { chromium, request } from 'playwright-core';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(HERE, 'screenshots');
const CHROMIUM = process.env.MAMORI_TEST_CHROMIUM || '/usr/bin/chromium';
const EXPECTED_NAV = [
  'ダッシュボード', '台帳', '端末エージェント', 'アカウント', 'チェックリスト', 'ログ',
  '事業者', 'バックアップ', 'インシデント', '設定',
];
const ACTION_TIMEOUT_MS = 15_000;
// Paths where the test sends a bad form on purpose (see the console handler).
const expectBadRequest = new Set();
const NAVIGATION_TIMEOUT_MS = 30_000;
const OVERALL_TIMEOUT_MS = 5 * 60_000;

// ---------------------------------------------------------------------------------------------
// results

let passed = 0;
let failed = 0;

// `detail` explains a failure; `info` is shown on success.
function check(name, ok, detail = '', info = '') {
  if (ok) {
    passed += 1;
    console.log(`ok    ${name}${info ? ` (${info})` : ''}`);
  } else {
    failed += 1;
    console.log(`FAIL  ${name}${detail ? `: ${detail}` : ''}`);
  }
  return ok;
}

function summary() {
  console.log(`browser: ${passed} passed, ${failed} failed`);
}

// Stops the flow after a failed check that later steps depend on.
class Abort extends Error {}

function require_(name, ok, detail, info) {
  if (!check(name, ok, detail, info)) throw new Abort(name);
}

// ---------------------------------------------------------------------------------------------
// TOTP (RFC 4648 base32, RFC 4226 HOTP, RFC 6238 TOTP) with node:crypto only

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32Decode(text) {
  const clean = text.replace(/[\s-]/g, '').replace(/=+$/, '').toUpperCase();
  const out = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of clean) {
    const value = BASE32_ALPHABET.indexOf(ch);
    if (value < 0) throw new Error(`TOTP secret: invalid base32 character ${JSON.stringify(ch)}`);
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((buffer >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

function hotp(key, counter, digits) {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = crypto.createHmac('sha1', key).update(message).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary =
    ((mac[offset] & 0x7f) << 24) |
    (mac[offset + 1] << 16) |
    (mac[offset + 2] << 8) |
    mac[offset + 3];
  return String(binary % 10 ** digits).padStart(digits, '0');
}

function totp(key, unixSeconds, digits = 6, period = 30) {
  return hotp(key, Math.floor(unixSeconds / period), digits);
}

function selfTestTotp() {
  // RFC 4648 §10 test vectors, and the RFC 6238 SHA-1 seed in base32.
  const b32 = [
    ['', ''], ['MY======', 'f'], ['MZXQ====', 'fo'], ['MZXW6===', 'foo'], ['MZXW6YQ=', 'foob'],
    ['MZXW6YTB', 'fooba'], ['MZXW6YTBOI======', 'foobar'],
    ['GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', '12345678901234567890'],
    ['gezdgnbv gy3tqojq', '1234567890'],
  ];
  const b32Bad = b32.filter(([enc, dec]) => base32Decode(enc).toString('latin1') !== dec);
  check('base32 decoder: RFC 4648 test vectors', b32Bad.length === 0,
    b32Bad.map(([e]) => e).join(', '));

  // RFC 6238 Appendix B, SHA-1, 8 digits.
  const seed = Buffer.from('12345678901234567890', 'ascii');
  const vectors = [
    [59, '94287082'], [1111111109, '07081804'], [1111111111, '14050471'],
    [1234567890, '89005924'], [2000000000, '69279037'], [20000000000, '65353130'],
  ];
  const bad = vectors
    .map(([t, want]) => [t, want, totp(seed, t, 8)])
    .filter(([, want, got]) => want !== got);
  check('TOTP: RFC 6238 SHA-1 test vectors (8 digits)', bad.length === 0,
    bad.map(([t, want, got]) => `T=${t}: want ${want}, got ${got}`).join('; '));
  const six = totp(seed, 59, 6);
  require_('TOTP: 6-digit truncation at T=59 is 287082', six === '287082', `got ${six}`);
}

// ---------------------------------------------------------------------------------------------
// helpers

function env(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`run.mjs: ${name} is not set (start this through run.sh)`);
    process.exit(2);
  }
  return value;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function slugOfHref(href) {
  const slug = new URL(href, 'http://x/').pathname
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return slug || 'index';
}

function shmBytesFree() {
  try {
    const st = fs.statfsSync('/dev/shm');
    return st.bavail * st.bsize;
  } catch {
    return 0;
  }
}

function pathOf(page) {
  return new URL(page.url()).pathname;
}

async function visibleErrorText(page) {
  const texts = await page
    .locator('[role=alert], .error, .errors, .flash, .alert')
    .allInnerTexts()
    .catch(() => []);
  return texts.map((t) => t.trim()).filter(Boolean).join(' / ');
}

async function waitForPath(page, predicate, timeout = NAVIGATION_TIMEOUT_MS) {
  try {
    await page.waitForURL((url) => predicate(url.pathname), { timeout });
    await page.waitForLoadState('load');
    return true;
  } catch {
    return false;
  }
}

// Charts and other late rendering: give the page a moment to go quiet, but never hang on it.
async function settle(page) {
  await page.waitForLoadState('networkidle', { timeout: 5_000 }).catch(() => {});
}

async function h1Visible(page) {
  try {
    await page.locator('h1').first().waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS });
    return (await page.locator('h1').first().innerText()).trim() || '(empty h1)';
  } catch {
    return null;
  }
}

// The demo prints its URL when it is listening, but allow a moment for the first request.
async function waitUntilServing(base) {
  const api = await request.newContext({ ignoreHTTPSErrors: true });
  const deadline = Date.now() + 30_000;
  let lastError = '';
  try {
    while (Date.now() < deadline) {
      try {
        await api.get(base, { maxRedirects: 0, timeout: 5_000 });
        return;
      } catch (e) {
        lastError = e.message.split('\n')[0];
        await sleep(500);
      }
    }
  } finally {
    await api.dispose();
  }
  throw new Error(`server at ${base} not answering: ${lastError}`);
}

// ---------------------------------------------------------------------------------------------
// main

async function main() {
  const base = env('MAMORI_TEST_URL');
  const loginId = env('MAMORI_TEST_LOGIN');
  const password = env('MAMORI_TEST_PASSWORD');
  const totpSecret = env('MAMORI_TEST_TOTP');

  selfTestTotp();
  const totpKey = base32Decode(totpSecret);
  require_('TOTP secret from the demo decodes', totpKey.length >= 10,
    `only ${totpKey.length} bytes`, `${totpKey.length} bytes`);

  fs.mkdirSync(SHOTS, { recursive: true });
  for (const name of fs.readdirSync(SHOTS)) {
    if (name.endsWith('.png')) fs.rmSync(path.join(SHOTS, name));
  }

  await waitUntilServing(base);

  const args = [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ];
  // Containers often mount a 64 MB /dev/shm, too small for full-page screenshots: Chromium
  // then crashes unless told to use /tmp instead.
  if (shmBytesFree() < 1024 ** 3) {
    args.push('--disable-dev-shm-usage');
    console.log('/dev/shm is small: adding --disable-dev-shm-usage');
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
  console.log(`chromium ${browser.version()}, base URL ${base}`);

  // Everything that must not happen, with where it happened.
  const problems = [];
  const warnings = [];
  let page;
  try {
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      locale: 'ja-JP',
      timezoneId: 'Asia/Tokyo',
      viewport: { width: 1366, height: 900 },
    });
    page = await context.newPage();
    page.setDefaultTimeout(ACTION_TIMEOUT_MS);
    page.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
    page.on('console', (msg) => {
      // A form sent wrong on purpose answers 400 with the page and its error: Chromium logs
      // the status as a console error, which is expected there and only there.
      if (msg.type() === 'error' && /status of 400/.test(msg.text())
          && expectBadRequest.has(pathOf(page))) {
        return;
      }
      if (msg.type() === 'error') {
        const loc = msg.location();
        const where = loc && loc.url ? ` at ${loc.url}:${loc.lineNumber}` : '';
        problems.push(`console error on ${page.url()}: ${msg.text()}${where}`);
      }
    });
    page.on('pageerror', (err) => {
      problems.push(`page error on ${page.url()}: ${err.stack || err.message}`);
    });
    page.on('response', (resp) => {
      if (resp.status() >= 500) {
        problems.push(`HTTP ${resp.status()} ${resp.request().method()} ${resp.url()}`);
      }
    });
    page.on('requestfailed', (req) => {
      warnings.push(`request failed: ${req.method()} ${req.url()}: ${req.failure()?.errorText}`);
    });
    page.on('dialog', (dialog) => {
      warnings.push(`dialog (${dialog.type()}) accepted: ${dialog.message()}`);
      dialog.accept().catch(() => {});
    });

    try {
      await flow(page, { base, loginId, password, totpKey });
    } catch (e) {
      if (!(e instanceof Abort)) check('flow ran to the end', false, e.stack || e.message);
      await page
        .screenshot({ path: path.join(SHOTS, 'failure.png'), fullPage: true })
        .then(() => console.log(`      screenshot of the failure: ${path.join(SHOTS, 'failure.png')}`))
        .catch(() => {});
    }

    for (const w of warnings) console.log(`warn  ${w}`);
    check('no console errors, page errors or HTTP 5xx responses', problems.length === 0,
      `${problems.length} found:\n        ${problems.join('\n        ')}`);
  } finally {
    await browser.close().catch(() => {});
  }
}

async function flow(page, { base, loginId, password, totpKey }) {
  // 1. Anonymous visit → login form.
  const first = await page.goto(base);
  require_('unauthenticated visit redirects to /login',
    pathOf(page) === '/login' && first !== null && first.status() < 400,
    `landed on ${page.url()} with status ${first?.status()}`);

  // 2. Password.
  const loginForm = page.locator('form', { has: page.locator('input[name=password]') });
  await page.locator('input[name=login_id]').fill(loginId);
  await page.locator('input[name=password]').fill(password);
  await loginForm.locator('button[type=submit]').click();
  const atTotp = await waitForPath(page, (p) => p === '/login/totp');
  require_('password accepted, asked for the TOTP code at /login/totp', atTotp,
    `now at ${page.url()} ${await visibleErrorText(page)}`);
  require_('TOTP page has input[name=code]',
    await page.locator('input[name=code]').isVisible(), 'input[name=code] not visible');

  // 3. TOTP: avoid submitting a code that expires in flight.
  const remaining = 30 - ((Date.now() / 1000) % 30);
  if (remaining < 5) await sleep((remaining + 1) * 1000);
  const code = totp(totpKey, Date.now() / 1000);
  const totpForm = page.locator('form', { has: page.locator('input[name=code]') });
  await page.locator('input[name=code]').fill(code);
  await totpForm.locator('button[type=submit]').click();
  const atHome = await waitForPath(page, (p) => p === '/');
  require_('TOTP accepted, landed on /', atHome,
    `now at ${page.url()} ${await visibleErrorText(page)}`);
  const homeH1 = await h1Visible(page);
  require_('dashboard shows an h1', homeH1 !== null, 'no visible h1', `「${homeH1}」`);

  // 4. Every top-level navigation entry.
  const links = await page.$$eval('nav a[data-nav]', (as) =>
    as.map((a) => ({
      href: a.getAttribute('href') || '',
      text: (a.textContent || '').replace(/\s+/g, ' ').trim(),
      nav: a.getAttribute('data-nav') || '',
    })),
  );
  const missing = EXPECTED_NAV.filter((label) => !links.some((l) => l.text.includes(label)));
  check(`navigation has the ${EXPECTED_NAV.length} top-level entries`,
    links.length === EXPECTED_NAV.length && missing.length === 0,
    `found ${links.length}: ${links.map((l) => `${l.text}→${l.href}`).join(', ')}` +
      (missing.length ? `; missing: ${missing.join(', ')}` : ''),
    links.map((l) => `${l.text}→${l.href}`).join(', '));

  const origin = new URL(base).origin;
  for (const [i, link] of links.entries()) {
    const nn = String(i + 1).padStart(2, '0');
    const name = `nav ${nn} ${link.text || link.nav} (${link.href})`;
    const target = new URL(link.href, page.url());
    if (target.origin !== origin) {
      check(name, false, `points off-site: ${target.href}`);
      continue;
    }
    let resp;
    try {
      resp = await page.goto(target.href);
    } catch (e) {
      check(name, false, e.message.split('\n')[0]);
      continue;
    }
    const status = resp ? resp.status() : 0;
    const where = pathOf(page);
    if (status === 0 || status >= 400 || where.startsWith('/login')) {
      check(name, false, `status ${status}, now at ${page.url()}`);
      continue;
    }
    await settle(page);
    const h1 = await h1Visible(page);
    const file = path.join(SHOTS, `${nn}-${slugOfHref(link.href)}.png`);
    let shotError = '';
    await page.screenshot({ path: file, fullPage: true }).catch((e) => {
      shotError = e.message.split('\n')[0];
    });
    check(name, h1 !== null && !shotError,
      h1 === null ? `status ${status} but no visible h1` : `screenshot failed: ${shotError}`,
      `${status}, h1 「${h1}」, ${path.relative(HERE, file)}`);
  }

  // 5. Health endpoint, as a load balancer sees it: no session cookie.
  const api = await request.newContext({ ignoreHTTPSErrors: true });
  try {
    const resp = await api.get(new URL('/healthz', base).href, { maxRedirects: 0 });
    const type = resp.headers()['content-type'] || '';
    const text = await resp.text();
    let body = null;
    try { body = JSON.parse(text); } catch { /* reported below */ }
    check('/healthz answers 200 application/json {"status":"ok"} without a session',
      resp.status() === 200 && type.includes('application/json') && body?.status === 'ok',
      `status ${resp.status()}, content-type ${type || '(none)'}, body ${text.slice(0, 200)}`,
      text.slice(0, 200));
  } finally {
    await api.dispose();
  }

  // 5a. A device's page with its history, the import page, the printable signing key and the
  // sealed-log section.
  for (const [name, url, file] of [
    ['device detail /ledger/assets/1', '/ledger/assets/1', '12-asset.png'],
    ['device list /ledger/assets', '/ledger/assets', '12a-assets.png'],
    ['systems /ledger/systems', '/ledger/systems', '12b-systems.png'],
    ['system detail /ledger/systems/1', '/ledger/systems/1', '12c-system.png'],
    ['system form /ledger/systems/1/edit', '/ledger/systems/1/edit', '12d-system-form.png'],
    ['staff /ledger/persons', '/ledger/persons', '12e-persons.png'],
    ['accounts registry /ledger/accounts', '/ledger/accounts', '12f-accounts.png'],
    ['vendors registry /ledger/vendors', '/ledger/vendors', '12g-vendors.png'],
    ['contacts /ledger/contacts', '/ledger/contacts', '12h-contacts.png'],
    ['contact chart /ledger/contacts/chart', '/ledger/contacts/chart', '12i-contact-chart.png'],
    ['ledger findings /ledger/findings', '/ledger/findings', '12j-findings.png'],
    ['ledger import /ledger/assets/import', '/ledger/assets/import', '13-import.png'],
    ['printable signing key /logs/seal/key', '/logs/seal/key', '14a-seal-key.png'],
    ['collected log search /logs/events', '/logs/events', '14b-log-events.png'],
    ['log sources /logs/sources', '/logs/sources', '14c-log-sources.png'],
    ['one log source /logs/sources/syslog%2F192.168.1.20', '/logs/sources/syslog%2F192.168.1.20', '14d-log-source.png'],
    ['log reviews /logs/reviews', '/logs/reviews', '14e-log-reviews.png'],
    ['access-log profiles /logs/profiles', '/logs/profiles', '14f-log-profiles.png'],
    ['a new access-log profile /logs/profiles/new', '/logs/profiles/new', '14g-log-profile-new.png'],
    ['alerts /alerts', '/alerts', '14h-alerts.png'],
    ['incident /incidents/1 (the demo\'s, from an alert)', '/incidents/1', '14i-incident.png'],
    ['directory sync /accounts/directory', '/accounts/directory', '14j-directory.png'],
    ['account reviews /accounts/reviews', '/accounts/reviews', '14k-account-reviews.png'],
    ['a closed account review /accounts/reviews/1', '/accounts/reviews/1', '14l-account-review.png'],
    ['break-glass accounts /accounts/break-glass', '/accounts/break-glass', '14m-break-glass.png'],
    ['account list import /accounts/import', '/accounts/import', '14n-account-import.png'],
    ['matches to confirm /accounts/matches', '/accounts/matches', '14o-account-matches.png'],
    ['endpoint agents /agents', '/agents', '14p-agents.png'],
    ['one agent /agents/2 (the PACS viewer, not in the ledger)', '/agents/2', '14q-agent.png'],
    ['removable-media policy /agents/policy', '/agents/policy', '14r-agent-policy.png'],
    ['service allow-lists /agents/baselines', '/agents/baselines', '14s-agent-baselines.png'],
    ['logs with the sealed log', '/logs', '14-logs-seal.png'],
  ]) {
    const resp = await page.goto(new URL(url, base).href);
    const h1 = await h1Visible(page);
    await page.screenshot({ path: path.join(SHOTS, file), fullPage: true }).catch(() => {});
    const raw = (await page.content()).match(/\b[a-z_]+_(field|hint|finding)\.[a-z_0-9]+|\bregistry\.[a-z_]+|\b(account_reviews|account_import|account_matches|break_glass|review_decision)\.[a-z_]+/g);
    check(name, resp && resp.status() < 400 && h1 !== null && !raw,
      `status ${resp && resp.status()}, h1 ${h1}, untranslated ${raw && raw.slice(0, 5)}`, `h1 「${h1}」`);
  }
  check('the logs page shows the sealed log and its key fingerprint',
    (await page.content()).includes('公開鍵の指紋'));
  // The demo's account review in progress: tick every account with the header box, keep them.
  {
    await page.goto(new URL('/accounts/reviews/2', base).href);
    const pendingBefore = await page.locator('input[name=account]').count();
    await page.locator('input[data-check-all]').check();
    const ticked = await page.locator('input[name=account]:checked').count();
    await page.locator('button[name=decision][value=keep]').click();
    await page.waitForLoadState('load');
    const html = await page.content();
    check('an account review takes a bulk decision from the tick-all box',
      pendingBefore > 0 && ticked === pendingBefore && html.includes('選んだアカウントを「継続」にしました'),
      `boxes ${pendingBefore}, ticked ${ticked}`);
  }
  {
    await page.goto(new URL('/logs/sources', base).href);
    const html = await page.content();
    check('the log sources page charts a week per source and shows the drifting clock and the silent switch',
      html.includes('chart-hourly') && html.includes('時刻ずれ') && html.includes('途絶')
        && (html.match(/class="column tone-good"/g) || []).length > 100);
  }

  // 5a'. The checklist: the demo's contradiction, an item answered いいえ with a target date, and
  // the contradiction gone.
  {
    const untranslatedIn = async () =>
      (await page.content()).match(/\b(checklist_[a-z]+|verdict|flag|answer|source)\.[a-z_]+(\.[a-z_]+)?\b(?![^<]*["'])/g);
    let resp = await page.goto(new URL('/checklist', base).href);
    await settle(page);
    await page.screenshot({ path: path.join(SHOTS, '15-checklist.png'), fullPage: true }).catch(() => {});
    const bannerText = async () =>
      (await page.locator('#contradictions').isVisible().catch(() => false))
        ? await page.locator('#contradictions').innerText() : '';
    const before = await bannerText();
    check('the checklist shows the demo clinic\'s contradiction (2-⑤) loudly',
      resp && resp.status() < 400 && before.includes('2-⑤'),
      `status ${resp && resp.status()}, banner 「${before}」`);
    const raw = await untranslatedIn();
    check('the checklist page has no untranslated keys', !raw, `untranslated ${raw && raw.slice(0, 5)}`);
    resp = await page.goto(new URL('/checklist/items/systems.unneeded_accounts', base).href);
    await settle(page);
    await page.screenshot({ path: path.join(SHOTS, '16-checklist-item.png'), fullPage: true }).catch(() => {});
    const now = new Date();
    const fyEnd = now.getMonth() >= 3 ? now.getFullYear() + 1 : now.getFullYear();
    await page.locator('input[name=answer][value=no]').check();
    await page.locator('#f_target_on').fill(`${fyEnd}-03-31`);
    await page.locator('#f_remarks').fill('退職者のアカウントを今月中に無効化する');
    await page.locator('form[action="/checklist/items/systems.unneeded_accounts"] button[type=submit]').click();
    const back = await waitForPath(page, (p) => p === '/checklist');
    await settle(page);
    const after = await bannerText();
    check('answering いいえ with a target date records it and clears the contradiction of 2-⑤',
      back && !after.includes('2-⑤') && (await page.content()).includes('回答を記録しました'),
      `now at ${page.url()}, banner 「${after}」: ${await visibleErrorText(page)}`);
    await page.screenshot({ path: path.join(SHOTS, '17-checklist-answered.png'), fullPage: true }).catch(() => {});
  }

  // The removable-media policy: a bad exception line is refused by its number and what was
  // typed stays; fixed, it is saved as a new version.
  {
    await page.goto(new URL('/agents/policy', base).href);
    await settle(page);
    await page.locator('input[name=mass_storage][value=read_only]').check();
    const box = page.locator('#exceptions');
    const kept = await box.inputValue();
    await box.fill(`${kept}0781-5583 allow # 番号の区切りを間違えた行\n`);
    expectBadRequest.add('/agents/policy');
    await page.locator('#policy-form button[type=submit]').click();
    await settle(page);
    expectBadRequest.delete('/agents/policy');
    const refused = await page.locator('.alert.bad').innerText().catch(() => '');
    const line = kept.split('\n').filter((l) => l.trim() !== '').length + 1;
    check('a bad exception line is refused by its number, what was typed kept',
      refused.includes(`${line}行目`) && (await box.inputValue()).includes('0781-5583'),
      `alert 「${refused}」`);
    await box.fill(`${kept}0781:5583 read_only # 紹介状 CD・USB の読み込み\n`);
    await page.locator('#policy-form button[type=submit]').click();
    await settle(page);
    const body = await page.content();
    check('the fixed policy is saved as a new version',
      body.includes('記憶媒体のポリシーを保存しました') && body.includes('紹介状 CD・USB の読み込み'),
      `now at ${page.url()}: ${await visibleErrorText(page)}`);
  }

  // The servers' allow-list of the demo: the mamori server keeps within it (a chart says so);
  // a bad line is refused by its number; saving it again records today's check.
  {
    await page.goto(new URL('/agents/baselines', base).href);
    await settle(page);
    const card = page.locator('#baseline-server');
    const within = (await card.innerText()).includes('許可リストの範囲内');
    const box = card.locator('textarea[name=text]');
    const kept = await box.inputValue();
    const lines = kept.endsWith('\n') ? kept : `${kept}\n`;
    await box.fill(`${lines}tcp/99999 # 誤り\n`);
    expectBadRequest.add('/agents/baselines');
    await card.locator('button[type=submit]').click();
    await settle(page);
    expectBadRequest.delete('/agents/baselines');
    const refused = await page.locator('.alert.bad').first().innerText().catch(() => '');
    const line = lines.split('\n').length;
    check('a bad allow-list line is refused by its number',
      within && refused.includes(`${line}行目`) && refused.includes('AGT0081'),
      `within ${within}, alert 「${refused}」`);
    await page.locator('#baseline-server textarea[name=text]').fill(kept);
    await page.locator('#baseline-server button[type=submit]').click();
    await settle(page);
    check('the allow-list is saved again as today\'s check',
      (await page.content()).includes('許可リストを保存しました')
        && (await page.locator('#baseline-server svg').count()) > 0,
      `now at ${page.url()}: ${await visibleErrorText(page)}`);
  }

  // 5a'''. The vendor forms: progress per system, and the fully answered form downloaded as
  // Excel and uploaded back unchanged (nothing new recorded).
  {
    const resp = await page.goto(new URL('/checklist/vendors', base).href);
    await settle(page);
    await page.screenshot({ path: path.join(SHOTS, '18-vendor-forms.png'), fullPage: true }).catch(() => {});
    const rows = page.locator('tr[id^="system-"]');
    const count = await rows.count();
    const full = rows.filter({ hasText: '15 / 15' }).first();
    const hasFull = (await full.count()) > 0;
    check('the vendor forms list every system with a vendor and its progress',
      resp && resp.status() < 400 && count >= 3 && hasFull && (await page.locator('progress.progress').count()) === count,
      `status ${resp && resp.status()}, ${count} rows, a full one: ${hasFull}`, `${count} forms`);
    if (hasFull) {
      const href = await full.locator('a[href*="checklist.xlsx"]').getAttribute('href');
      const xlsx = await page.request.get(new URL(href, base).href);
      const buffer = await xlsx.body();
      await full.locator('input[type=file]').setInputFiles({
        name: 'returned.xlsx',
        mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        buffer,
      });
      await full.locator('button[type=submit]').click();
      await settle(page);
      const text = await page.locator('.alert').first().innerText().catch(() => '');
      check('a returned vendor form is read back (unchanged: nothing new recorded)',
        text.includes('0件を記録') && text.includes('15件は変更なし'),
        `alert 「${text}」: ${await visibleErrorText(page)}`, text);
      await page.screenshot({ path: path.join(SHOTS, '18a-vendor-form-imported.png'), fullPage: true }).catch(() => {});
    }
  }

  // 5a''. A vendor document: register it, upload its file, see the SHA-256 the server computed,
  // and download it back as an attachment.
  await page.goto(new URL('/ledger/vendor_documents/new', base).href);
  await page.locator('#f_vendor').selectOption({ index: 0 });
  await page.locator('#f_title').fill('電子カルテ MDS（ブラウザ確認）');
  await page.locator('form[action="/ledger/vendor_documents"] button[type=submit]').click();
  const docSaved = await waitForPath(page, (p) => /^\/ledger\/vendor_documents\/\d+$/.test(p));
  require_('vendor document registered, continuing at its file', docSaved,
    `now at ${page.url()}: ${await visibleErrorText(page)}`);
  const pdf = Buffer.from('%PDF-1.4\n% mamori browser check\n');
  const pdfHash = crypto.createHash('sha256').update(pdf).digest('hex');
  await page.locator('#f_file').setInputFiles({ name: 'MDS 第2.1版.pdf', mimeType: 'application/pdf', buffer: pdf });
  await page.locator('form[action$="/files"] button[type=submit]').click();
  const uploaded = await page
    .waitForURL((url) => url.search.includes('ok=file_uploaded'), { timeout: NAVIGATION_TIMEOUT_MS })
    .then(() => true, () => false);
  require_('vendor document file uploaded', uploaded, `now at ${page.url()}: ${await visibleErrorText(page)}`);
  check('the document page shows the SHA-256 computed by the server',
    (await page.content()).includes(pdfHash), pdfHash);
  await page.screenshot({ path: path.join(SHOTS, '12k-vendor-document.png'), fullPage: true }).catch(() => {});
  const fileHref = await page.locator('#file a[download]').first().getAttribute('href');
  const got = await page.request.get(new URL(fileHref, base).href);
  const body = await got.body();
  check('the file downloads as an attachment with the same bytes',
    got.status() === 200 && (got.headers()['content-disposition'] || '').startsWith('attachment;')
      && crypto.createHash('sha256').update(body).digest('hex') === pdfHash,
    `status ${got.status()}, ${got.headers()['content-disposition']}`);

  // 5b. Register a security key with Chromium's virtual authenticator (CTAP2, user verification).
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'usb', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  await page.goto(new URL('/account', base).href);
  await page.locator('#key_name').fill('CI仮想キー');
  await page.locator('button[data-key-register]').click();
  const registered = await page
    .waitForURL((url) => url.pathname === '/account' && url.search.includes('ok=key_added'), { timeout: NAVIGATION_TIMEOUT_MS })
    .then(() => true, () => false);
  require_('security key registered from the account page', registered,
    `now at ${page.url()}: ${await visibleErrorText(page)}`);
  check('the account page lists the new key', (await page.content()).includes('CI仮想キー'));
  await page.screenshot({ path: path.join(SHOTS, '10-account-keys.png'), fullPage: true }).catch(() => {});

  // 6. Log out.
  await page.goto(new URL('/', base).href);
  const logout = page.locator('form[action="/logout"] button').first();
  require_('logout button is visible', await logout.isVisible().catch(() => false),
    `no visible form[action="/logout"] button on ${page.url()}`);
  await logout.click();
  const loggedOut = await waitForPath(page, (p) => p === '/login');
  require_('logout lands on /login', loggedOut, `now at ${page.url()}`);
  await page.goto(new URL('/', base).href);
  check('after logout / redirects to /login again', pathOf(page) === '/login', `now at ${page.url()}`);

  // 7. Log in again with the password and the security key instead of the TOTP code.
  await page.locator('input[name=login_id]').fill(loginId);
  await page.locator('input[name=password]').fill(password);
  await page.locator('button[type=submit]').click();
  require_('password accepted again', await waitForPath(page, (p) => p === '/login/totp'), `now at ${page.url()}`);
  await page.screenshot({ path: path.join(SHOTS, '11-second-factor.png'), fullPage: true }).catch(() => {});
  await page.locator('button[data-key-login]').click();
  const inWithKey = await waitForPath(page, (p) => p === '/');
  require_('security key accepted as the second factor', inWithKey,
    `now at ${page.url()}: ${await visibleErrorText(page)}`);
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  check('the virtual authenticator holds one credential, used for sign-in',
    credentials.length === 1 && credentials[0].signCount >= 1,
    JSON.stringify(credentials.map((c) => ({ rpId: c.rpId, signCount: c.signCount }))));
}

const watchdog = setTimeout(() => {
  check('finished within the time limit', false, `still running after ${OVERALL_TIMEOUT_MS / 1000} s`);
  summary();
  process.exit(1);
}, OVERALL_TIMEOUT_MS);
watchdog.unref();

try {
  await main();
} catch (e) {
  if (!(e instanceof Abort)) check('browser run', false, e.stack || e.message);
}
summary();
process.exit(failed > 0 ? 1 : 0);
