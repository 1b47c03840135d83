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
