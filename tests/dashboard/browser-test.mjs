// The dashboard in a real browser: headless Chromium (Debian's), driven over
// the DevTools protocol by puppeteer-core. Presses the page's own buttons
// and reads the page's own numbers, as a trainer's room would see them.
//
//     node browser-test.mjs URL SCREENSHOT.png TRACE.svg [SLIDES.html ...]
//
// Exits 0 when the burst raised leaky by 270 threads or more and fixed came
// back to where it started, the incident ran, and the chapter switcher
// switched; when after each button the page fits the window at 1280x720 and
// at 1920x1080 without scrolling, every dump line wraps inside its box and
// the leaky dump's "leaked" line is on the screen; when the trace's
// swimlanes render with chapter 02's senders still blocked where the dump
// says; when (for each slides file given) the arrow keys reach every slide
// and every slide's code fits it in type of 20 px or more at 1280x720 (and
// fits at 1920x1080); and when no Chinese character on any of these pages
// renders as the missing-glyph box; and, with ROOM_URL set (the room's
// http://127.0.0.1:PORT/CODE), when 30 learners posting at once, 6 of them
// wrongly, give the room board one card per right post, each name shown as
// the text it is (HTML in a name stays text), the refused ones absent, and
// the board fits both sizes. Otherwise 1, saying what the page showed.
// Screenshots of each go beside SCREENSHOT.png.
import puppeteer from 'puppeteer-core';
import http from 'node:http';

const [url, shot, trace, ...decks] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--window-size=1280,720'],
});
let failed = false;
function fail(why) { console.error('FAIL: ' + why); failed = true; }
const dir = shot.replace(/[^/]*$/, '');
const SIZES = [[1280, 720], [1920, 1080]];

// The Chinese characters of a page that render as the missing-glyph box:
// each is drawn in the page's font beside U+10FFFD, which no font has; the
// same pixels mean the same box.
async function tofu(page) {
  return page.evaluate(() => {
    // an SVG file has no body: its text elements carry the font
    const root = document.body || document.querySelector('text') || document.documentElement;
    const text = document.documentElement.textContent;
    const cjk = [...new Set(text.match(/[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]/gu) || [])];
    const font = getComputedStyle(root).fontFamily;
    const c = document.createElementNS('http://www.w3.org/1999/xhtml', 'canvas');
    c.width = c.height = 48;
    const g = c.getContext('2d', { willReadFrequently: true });
    const pixels = (ch) => {
      g.clearRect(0, 0, 48, 48);
      g.font = `40px ${font}`;
      g.fillText(ch, 2, 40);
      return g.getImageData(0, 0, 48, 48).data.join(',');
    };
    const box = pixels('\u{10FFFD}');
    return cjk.filter((ch) => pixels(ch) === box);
  });
}

async function noTofu(page, what) {
  const boxes = await tofu(page);
  if (boxes.length) fail(`${what}: ${boxes.length} Chinese characters render as empty boxes: ${boxes.join('')}`);
}

// What a room sees of the dashboard: no scrolling, no dump line cut, the
// leaky dump's "leaked" on the screen (when there is one), at each size.
// The one page is looked at in each size in turn (a second page would be a
// background tab, which Chromium does not draw), then put back to 1280x720.
async function legible(p, after) {
  for (const [w, h] of [...SIZES].reverse()) {
    await p.setViewport({ width: w, height: h });
    // the chart is redrawn for the new size at the next poll
    if (!await until(p, (q) => q.evaluate(() => {
      const svg = document.getElementById('chart');
      return (svg.getAttribute('viewBox') || '').endsWith(` ${svg.clientWidth} ${svg.clientHeight}`);
    }), 5000)) fail(`after ${after} at ${w}x${h}: the chart was not redrawn for the window's size`);
    const s = await p.evaluate(() => {
      const page = document.scrollingElement;
      const cut = [...document.querySelectorAll('.dump div')].filter((d) => d.scrollWidth > d.clientWidth + 1)
        .map((d) => d.textContent);
      const box = document.getElementById('leaky-dump').getBoundingClientRect();
      const leaked = [...document.querySelectorAll('#leaky-dump div')].find((d) => d.textContent.endsWith('leaked'));
      return { scrolls: page.scrollHeight > innerHeight + 1 || page.scrollWidth > innerWidth + 1,
               height: page.scrollHeight, cut,
               hidden: leaked ? leaked.getBoundingClientRect().bottom > box.bottom + 1 : false };
    });
    if (s.scrolls) fail(`after ${after} at ${w}x${h}: the page is ${s.height} px tall and scrolls`);
    if (s.cut.length) fail(`after ${after} at ${w}x${h}: a dump line is cut: ${s.cut[0]}`);
    if (s.hidden) fail(`after ${after} at ${w}x${h}: the leaky dump's "leaked" line is below its box`);
    await p.screenshot({ path: `${dir}dashboard-${after}-${w}x${h}.png` });
  }
}

async function number(page, id) {
  const t = await page.$eval('#' + id, (e) => e.textContent);
  return /^\d+$/.test(t) ? Number(t) : NaN;
}

// Polls cond(page) until it holds or ms pass; returns whether it held.
async function until(page, cond, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond(page)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

// One learner's post from 127.0.0.FROM (the board limits posts per address):
// resolves to [status, answer].
function post(room, from, code, body) {
  return new Promise((resolve) => {
    const req = http.request({ host: room.hostname, port: room.port, method: 'POST',
      path: `/api/verdict/${code}`, localAddress: `127.0.0.${from}`,
      headers: { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) } },
    (res) => { let t = ''; res.on('data', (c) => { t += c; }); res.on('end', () => resolve([res.statusCode, t.trim()])); });
    req.on('error', (e) => resolve([0, e.message]));
    req.setTimeout(10000, () => req.destroy(new Error('no answer in 10 s')));
    req.end(body);
  });
}

async function roomBoard(dashboard, roomUrl) {
  const room = new URL(roomUrl);
  const code = room.pathname.slice(1);
  const cases = (pass) => 'case: obeys_a_hang_up_at_once ok\ncase: behaves_as_the_story_says ' +
    (pass ? 'ok' : 'fail') + '\ncase: fixed_returns_to_its_baseline ' + (pass ? 'ok' : 'fail') + '\n';
  const names = ['王芳', '李雷', '韩梅梅', 'Ada', 'Grace', 'Linus', 'Ken', 'Barbara', '张伟', 'Dennis',
    'Margaret', '刘洋', 'Edsger', 'Frances', 'Tony', '陈静', 'Niklaus', 'Radia', 'Leslie', '赵磊',
    'Donald', 'Fran', 'Jim', '<img src=x onerror=document.title=1>Eve'];
  const posts = names.map((name, i) => [10 + i, code,
    `name: ${name}\nchapter: 0${1 + (i % 6)}\nverdict: ${i % 3 ? 'pass' : 'fail'}\n${cases(i % 3 !== 0)}` +
    (i % 3 ? '' : `finding: 0${1 + (i % 6)}-chapter/leaky.c:${40 + i} (in worker) still blocks after the hang-up\n`)]);
  const bad = [[40, '', 'name: NoCode\nchapter: 01\nverdict: pass\n', 403],
    [41, 'WRONG9', 'name: WrongCode\nchapter: 01\nverdict: pass\n', 403],
    [42, code.toLowerCase(), 'name: LowerCode\nchapter: 01\nverdict: pass\n', 403],
    [43, code, 'name: BadChapter\nchapter: 09\nverdict: pass\n', 400],
    [44, code, 'name: NoVerdict\nchapter: 01\nverdict: maybe\n', 400],
    [45, code, '<script>alert(1)</script>', 400]];
  const got = await Promise.all([...posts.map(([f, c, b]) => post(room, f, c, b)),
    ...bad.map(([f, c, b]) => post(room, f, c, b))]);
  got.slice(0, posts.length).forEach(([st, t], i) => { if (st !== 200) fail(`room: ${names[i]}'s post got ${st}: ${t}`); });
  got.slice(posts.length).forEach(([st, t], i) => {
    if (st !== bad[i][3]) fail(`room: a bad post (${bad[i][2].split('\n')[0]}) got ${st}, not ${bad[i][3]}: ${t}`);
  });
  console.log(`room: ${posts.length} posts on the board, ${bad.length} refused: ` +
    got.slice(posts.length).map(([st, t]) => `${st} ${t}`).join('; '));

  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 720 });
  await page.goto(new URL('room.html', dashboard).href, { waitUntil: 'load' });
  if (!await until(page, (p) => p.$$eval('.card', (c) => c.length === 24), 10000))
    fail(`room: the board shows ${await page.$$eval('.card', (c) => c.length)} cards, not 24`);
  const seen = await page.evaluate(() => [...document.querySelectorAll('.card')].map((c) => ({
    name: c.querySelector('.who').textContent, red: c.classList.contains('fail'),
    chapter: c.dataset.chapter, when: c.querySelector('.when').textContent,
    finding: (c.querySelector('.finding') || {}).textContent || '' })));
  names.forEach((name, i) => {
    const c = seen.find((x) => x.name === name);
    if (!c) return fail(`room: no card shows the name ${name} as text`);
    if (c.red !== (i % 3 === 0)) fail(`room: ${name} is ${c.red ? 'red' : 'green'}, posted ${i % 3 ? 'pass' : 'fail'}`);
    if (c.chapter !== `0${1 + (i % 6)}` || !c.when.startsWith(`ch 0${1 + (i % 6)} · `))
      fail(`room: ${name}'s card says "${c.when}", posted chapter 0${1 + (i % 6)}`);
    if (c.red && !c.finding.includes(`leaky.c:${40 + i}`)) fail(`room: ${name}'s finding reads "${c.finding}"`);
  });
  if (seen.findIndex((c) => !c.red) < seen.filter((c) => c.red).length)
    fail('room: a green card comes before a red one: the stuck are not first');
  for (const refused of ['NoCode', 'WrongCode', 'LowerCode', 'BadChapter', 'NoVerdict'])
    if (seen.some((c) => c.name === refused)) fail(`room: the refused post of ${refused} is on the board`);
  const injected = await page.evaluate(() => document.querySelectorAll('#board img, #board script').length);
  if (injected || await page.title() === '1') fail('room: a name\'s HTML became part of the page');
  await noTofu(page, 'the room board');
  for (const [w, h] of SIZES) {
    await page.setViewport({ width: w, height: h });
    const s = await page.evaluate(() => {
      const e = document.scrollingElement;
      const cards = [...document.querySelectorAll('.card')];
      const below = cards.filter((c) => c.getBoundingClientRect().bottom > innerHeight + 1).length;
      const small = Math.min(...[...document.querySelectorAll('.card *')].map((x) => parseFloat(getComputedStyle(x).fontSize)));
      return { scrolls: e.scrollHeight > innerHeight + 1 || e.scrollWidth > innerWidth + 1, below, small,
               cards: cards.length };
    });
    if (s.scrolls || s.below) fail(`room at ${w}x${h}: ${s.below} cards below the window${s.scrolls ? ', and it scrolls' : ''}`);
    if (s.small < 15) fail(`room at ${w}x${h}: text of ${s.small} px on a card`);
    await page.screenshot({ path: `${dir}room-${w}x${h}.png` });
    console.log(`room at ${w}x${h}: ${s.cards} cards, ${s.below} below the window, text ${s.small} px or more`);
  }
  await page.close();
}

try {
  if (process.env.ROOM_URL) await roomBoard(url, process.env.ROOM_URL);
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 720 });
  await page.goto(url, { waitUntil: 'load' });
  await noTofu(page, 'the dashboard');
  if (!await until(page, async (p) => !isNaN(await number(p, 'leaky-threads')), 10000))
    throw new Error('no thread count on the page after 10 s');
  const leaky0 = await number(page, 'leaky-threads');
  const fixed0 = await number(page, 'fixed-threads');
  console.log(`before the burst: leaky ${leaky0}, fixed ${fixed0}`);

  await page.click('#burst');
  let peak = leaky0;
  const rose = await until(page, async (p) => {
    peak = Math.max(peak, await number(p, 'leaky-threads'));
    return peak >= leaky0 + 270;
  }, 20000);
  if (!rose) fail(`leaky rose to ${peak} only (from ${leaky0}; 270 more expected)`);
  const back = await until(page, async (p) =>
    await number(p, 'fixed-threads') === fixed0 &&
    (await p.$eval('#results', (e) => e.textContent)).startsWith('burst: leaky'), 20000);
  const fixed1 = await number(page, 'fixed-threads');
  if (!back) fail(`fixed shows ${fixed1} threads after the burst, ${fixed0} before`);
  const leaky1 = await number(page, 'leaky-threads');
  console.log(`after the burst: leaky ${leaky1} (peak ${peak}), fixed ${fixed1}`);
  console.log('  ' + await page.$eval('#results', (e) => e.textContent));
  if (shot) await page.screenshot({ path: shot });
  await legible(page, 'burst');

  await page.click('#patient');
  const answered = await until(page, async (p) =>
    /patient: leaky: (\d+|no answer).*; fixed: /.test(await p.$eval('#results', (e) => e.textContent)), 20000);
  if (!answered) fail('the patient button never showed what each server answered');
  await legible(page, 'patient');

  await page.click('#incident');
  const running = await until(page, (p) => p.$eval('#incident', (e) => e.disabled), 5000);
  if (!running) fail('the incident button never showed its load running');
  // A switch while the load runs is refused: the reason shows, the menu goes back.
  await page.select('#chapter', '02');
  const refused = await until(page, async (p) =>
    (await p.$eval('#status', (e) => e.textContent)).includes('still running') &&
    await p.$eval('#chapter', (e) => e.value) === '05', 5000);
  if (!refused) fail('a chapter switch during the incident was not refused on the page: ' +
                     await page.$eval('#status', (e) => e.textContent));
  const done = await until(page, async (p) =>
    /incident: leaky:.* fixed:.*\d+ ×\d+/.test(await p.$eval('#results', (e) => e.textContent)), 90000);
  const results = await page.$eval('#results', (e) => e.textContent);
  if (!done) fail('the incident did not report what each server answered: ' + results);
  const leaky2 = await number(page, 'leaky-threads');
  if (!(leaky2 > leaky1)) fail(`the incident left leaky at ${leaky2} threads, ${leaky1} before it`);
  console.log(`after the incident: leaky ${leaky2}, fixed ${await number(page, 'fixed-threads')}`);
  console.log('  ' + results.split('\n').filter((l) => l.startsWith('incident')).join(''));
  await legible(page, 'incident');

  await page.select('#chapter', '02');
  const switched = await until(page, async (p) =>
    (await p.$eval('#status', (e) => e.textContent)).startsWith('02-channel-block · live') &&
    await number(p, 'leaky-threads') < 10, 20000);
  if (!switched) fail('the chapter switcher did not bring up chapter 02: ' +
                      await page.$eval('#status', (e) => e.textContent));
  {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 720 });
    await page.goto('file://' + trace, { waitUntil: 'load' });
    const lanes = await page.evaluate(() => {
      const texts = [...document.querySelectorAll('svg text')].map((t) => t.textContent);
      const box = document.querySelector('svg').getBoundingClientRect();
      return { senders: texts.filter((t) => t === 'sender \u00d710').length,
               stuck: texts.filter((t) => /^still chan_send at 02-channel-block\/leaky\.c:\d+$/.test(t)).length,
               width: box.width, height: box.height };
    });
    // ./lab trace 02 sends 10 requests: each side has a lane of 10 senders,
    // leaky's still blocked; the whole picture fits a 1280x720 projector
    if (lanes.senders !== 2 || lanes.stuck !== 1 || lanes.width < 1280 || lanes.height > 720)
      fail(`the trace shows ${lanes.senders} lanes of 10 senders, ${lanes.stuck} still blocked, ` +
           `${lanes.width}x${lanes.height} px (want 2, 1, 1280 wide and at most 720 tall)`);
    else console.log(`trace: ${lanes.senders} lanes of 10 senders, ${lanes.stuck} still blocked at the end, ` +
                     `${lanes.width}x${lanes.height} px`);
    await noTofu(page, 'the trace');
    await page.screenshot({ path: dir + 'trace-02.png' });
  }
  for (const deck of decks) {
    const lang = deck.includes('zh-CN') ? 'zh-CN' : 'en';
    for (const [w, h] of SIZES) {
      const page = await browser.newPage();
      await page.setViewport({ width: w, height: h });
      await page.goto('file://' + deck, { waitUntil: 'load' });
      if (w === SIZES[0][0]) await noTofu(page, deck);
      const total = await page.$$eval('section', (s) => s.length);
      let seen = 0, smallest = 99;
      for (let i = 1; i <= total; i++) {
        const state = await page.evaluate(() => {
          const on = document.querySelector('section.on');
          const pres = [...on.querySelectorAll('pre')];
          return {
            page: document.getElementById('page').textContent,
            fits: pres.every((p) => p.scrollHeight <= p.clientHeight + 1 && p.scrollWidth <= p.clientWidth + 1),
            smallest: Math.min(...pres.map((p) => parseFloat(getComputedStyle(p).fontSize)), 99),
            title: (on.querySelector('h1, h2') || {}).textContent,
          };
        });
        smallest = Math.min(smallest, state.smallest);
        if (state.page !== `${i} / ${total}`) fail(`${deck}: slide ${i} shows "${state.page}"`);
        if (!state.fits || state.smallest < 20)
          fail(`${deck} at ${w}x${h}: slide ${i} (${state.title}): code ${state.fits ? 'fits' : 'does not fit'}, at ${state.smallest} px`);
        if ([1, 2, 3, 6, total].includes(i))
          await page.screenshot({ path: `${dir}slide-${lang}-${i}-${w}x${h}.png` });
        seen++;
        await page.keyboard.press('ArrowRight');
      }
      console.log(`${deck} at ${w}x${h}: ${seen} slides, each reached by the arrow keys, its code fitting, ${smallest} px or more`);
      await page.close();
    }
  }
} catch (e) {
  fail(e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
