import { type Browser, chromium, type Page } from 'playwright-core';

/**
 * The local status page in headless Chromium (/usr/bin/chromium), recording what it requests and every
 * script error, for the status page tests.
 */
export async function openStatusPage(url: string): Promise<{
  browser: Browser;
  page: Page;
  requested: string[];
  pageErrors: string[];
}> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    // Without the background-networking flags Chromium keeps trying to reach a network it cannot.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const requested: string[] = [];
  const pageErrors: string[] = [];
  const page = await browser.newPage({ viewport: { width: 1000, height: 620 } });
  page.on('request', (request) => requested.push(request.url()));
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(url);
  return { browser, page, requested, pageErrors };
}
