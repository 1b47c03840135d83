// Drives the web enrollment pages in headless Chromium for the Go test
// TestBrowserEnrollment. Input: a JSON file named by argv[2]. Output: a
// JSON summary on stdout; downloads and screenshots in cfg.out.
import { chromium } from 'playwright-core';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const out = cfg.out;
const result = { screenshots: [], downloads: {} };

function check(cond, msg) {
  if (!cond) throw new Error('check failed: ' + msg);
}

async function shot(page, name) {
  const file = join(out, name + '.png');
  await page.screenshot({ path: file, fullPage: true });
  result.screenshots.push(file);
}

async function download(page, selector, name) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  const file = join(out, name);
  await dl.saveAs(file);
  result.downloads[name] = { file, suggested: dl.suggestedFilename() };
}

async function signIn(page, user, password) {
  await page.goto(cfg.url + '/certsrv/signin');
  await page.fill('#user', user);
  await page.fill('#password', password);
  await Promise.all([page.waitForNavigation(), page.click('#signin button[type=submit]')]);
  check(page.url().includes('/certsrv/'), 'signed in as ' + user + ', at ' + page.url());
  check((await page.textContent('.who')).includes(user), 'header names ' + user);
}

async function signOut(page) {
  await Promise.all([page.waitForNavigation(), page.click('header form button')]);
}

async function submit(page, csr, template) {
  await page.goto(cfg.url + '/certsrv/request');
  await page.fill('#csr', csr);
  await page.selectOption('#template', template);
  const [resp] = await Promise.all([page.waitForNavigation(), page.click('#request button[type=submit]')]);
  return resp;
}

const browser = await chromium.launch({
  executablePath: cfg.chromium,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true, viewport: { width: 1100, height: 760 } });
  const page = await context.newPage();

  // Home, anonymous.
  await page.goto(cfg.url + '/');
  check((await page.textContent('main')).includes('Download a CA certificate, certificate chain, or CRL'), 'home lists the tasks');
  await shot(page, '01-home');

  // Sign in as a user who may enroll.
  await page.goto(cfg.url + '/certsrv/signin');
  await page.fill('#user', cfg.user);
  await shot(page, '02-signin');
  await signIn(page, cfg.user, cfg.password);

  // Download the chain (DER and Base64) and the CRL.
  await page.goto(cfg.url + '/certsrv/download');
  await shot(page, '03-download');
  await download(page, '#chain-der', 'certnew.p7b');
  await download(page, '#chain-b64', 'certnew-b64.p7b');
  await download(page, '#cert-der', 'certnew.cer');
  await download(page, '#crl-der', 'certcrl.crl');

  // Paste a request: issued at once; download the certificate and its chain.
  await page.goto(cfg.url + '/certsrv/request');
  await page.fill('#csr', cfg.csrIssue);
  await page.selectOption('#template', cfg.templateAuto);
  await shot(page, '04-request');
  await Promise.all([page.waitForNavigation(), page.click('#request button[type=submit]')]);
  check((await page.textContent('#status')).trim() === 'issued', 'request issued');
  result.issuedId = Number((await page.textContent('#request-id')).trim());
  await shot(page, '05-issued');
  await download(page, '#issued-b64', 'issued.cer');
  await download(page, '#issued-p7b-der', 'issued.p7b');

  // A request that needs approval: its id is shown.
  await submit(page, cfg.csrPending, cfg.templateApproval);
  check((await page.textContent('#status')).trim() === 'pending', 'request pending');
  result.pendingId = Number((await page.textContent('#request-id')).trim());
  await shot(page, '06-pending-request');
  await page.goto(cfg.url + '/certsrv/pending');
  check(!(await page.isVisible('#approve-' + result.pendingId)), 'a user sees no approve button');
  await shot(page, '07-user-requests');
  await signOut(page);

  // The administrator sees it and approves it.
  await signIn(page, cfg.admin, cfg.adminPassword);
  await page.goto(cfg.url + '/certsrv/pending?status=pending');
  check(await page.isVisible('#req-' + result.pendingId), 'the administrator sees the pending request');
  await shot(page, '08-admin-pending');
  await Promise.all([page.waitForNavigation(), page.click('#approve-' + result.pendingId)]);
  check((await page.textContent('#notice')).includes('approved'), 'approval notice');
  await shot(page, '09-admin-approved');

  // The requests table fits a 1280 px screen and a phone: no sideways
  // scrolling, every action button on the screen; the pending request
  // with many names shows them all.
  for (const [w, h, name] of [[1280, 800, '12-requests-1280'], [390, 844, '13-requests-phone']]) {
    await page.setViewportSize({ width: w, height: h });
    await page.goto(cfg.url + '/certsrv/pending');
    await shot(page, name);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    const widest = await page.evaluate((w) => [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > w).map((e) => e.tagName + '.' + e.className + '#' + e.id).slice(0, 5).join(' '), w);
    check(overflow <= 0, `the requests page scrolls sideways by ${overflow} px at ${w} px: ${widest}`);
    for (const b of await page.$$('#requests button')) {
      const box = await b.boundingBox();
      check(box && box.x >= 0 && box.x + box.width <= w, `a button (${await b.textContent()}) is cut off at ${w} px: ${JSON.stringify(box)}`);
    }
    for (const n of cfg.wideNames) {
      check((await page.textContent('#names-' + cfg.wideId)).includes(n), 'the pending request shows ' + n);
    }
    check(/\d{4}-\d\d-\d\dT\d\d:\d\dZ/.test(await page.textContent('#req-' + cfg.wideId + ' time')), 'ISO 8601 date with its zone');
  }
  await page.setViewportSize({ width: 1280, height: 800 });

  // Revoking asks for a confirmation; once revoked, the row says so and
  // offers no Revoke button.
  await page.goto(cfg.url + '/certsrv/pending');
  await page.click('#revoke-' + result.issuedId);
  check(page.url().endsWith('/certsrv/pending'), 'an unconfirmed revoke went nowhere');
  check((await page.textContent('#req-' + result.issuedId + ' .status')).trim() === 'issued', 'not revoked without confirmation');
  await page.check('#confirm-revoke-' + result.issuedId);
  await Promise.all([page.waitForNavigation(), page.click('#revoke-' + result.issuedId)]);
  check((await page.textContent('#notice')).includes('revoked'), 'revocation notice');
  check((await page.textContent('#req-' + result.issuedId + ' .status')).trim() === 'revoked', 'listed as revoked');
  check(!(await page.isVisible('#revoke-' + result.issuedId)), 'no Revoke button on a revoked certificate');
  await shot(page, '14-revoked');

  // The administrator's request page chooses no template beforehand.
  await page.goto(cfg.url + '/certsrv/request');
  check((await page.inputValue('#template')) === '', 'no template chosen beforehand');
  await shot(page, '15-admin-request');
  await signOut(page);

  // A user without Enroll permission: no template offered, and a forged
  // submission for one is refused.
  await signIn(page, cfg.noEnrollUser, cfg.noEnrollPassword);
  await page.goto(cfg.url + '/certsrv/request');
  check(await page.isVisible('#no-templates'), 'the user is told there is no template to enroll in');
  await shot(page, '10-no-enroll');
  await page.evaluate((t) => {
    const sel = document.querySelector('#template');
    const o = document.createElement('option');
    o.value = t; o.textContent = t; sel.appendChild(o); sel.value = t;
    document.querySelector('#request button[type=submit]').disabled = false;
  }, cfg.templateAuto);
  await page.fill('#csr', cfg.csrRefused);
  const [resp] = await Promise.all([page.waitForNavigation(), page.click('#request button[type=submit]')]);
  result.refusedStatus = resp.status();
  result.refusedMessage = (await page.textContent('#error')).trim();
  await shot(page, '11-refused');
  await context.close();
} finally {
  await browser.close();
}
writeFileSync(join(out, 'result.json'), JSON.stringify(result, null, 2));
console.log(JSON.stringify(result));
