// The room board: GET /api/room every second, one card per learner (their
// latest chapter), the stuck first. Names and findings are the learners'
// own text: they only ever reach the page as textContent, never as HTML.
'use strict';

const short = {
  obeys_a_hang_up_at_once: 'hang-ups 挂断',
  behaves_as_the_story_says: 'patient 耐心',
  fixed_returns_to_its_baseline: 'burst 突发',
  no_thread_for_the_work_is_503: 'no threads 无线程',
  failures_and_hang_ups_leave_nothing: 'failing worker 失败',
};

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function ago(seconds) {
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return `${Math.floor(seconds / 3600)} h ago`;
}

// Each learner's latest verdict: a later chapter's, or the same one's again.
function latest(learners) {
  const by = new Map();
  for (const l of learners) {
    const had = by.get(l.name);
    if (!had || l.at > had.at || (l.at === had.at && l.chapter > had.chapter)) by.set(l.name, l);
  }
  return [...by.values()].sort((a, b) =>
    (a.pass - b.pass) || (a.pass ? 0 : a.at - b.at) || a.name.localeCompare(b.name));
}

function card(l, now) {
  const c = el('div', `card ${l.pass ? 'ok' : 'fail'}`);
  c.dataset.name = l.name;
  c.dataset.chapter = l.chapter;
  const top = el('div', 'top');
  top.append(el('span', 'who', l.name), el('span', 'when', `ch ${l.chapter} · ${ago(Math.max(0, now - l.at))}`));
  c.append(top);
  const cases = el('div', 'cases');
  for (const k of l.cases) {
    cases.append(el('span', `chip ${k.ok ? 'ok' : 'fail'}`, k.ok ? '✓' : '✗'));
    cases.append(document.createTextNode(`${Object.hasOwn(short, k.name) ? short[k.name] : k.name}  `));
  }
  c.append(cases);
  if (!l.pass) c.append(el('div', 'finding', l.finding || 'not yet 未通过'));
  return c;
}

async function tick() {
  try {
    const r = await fetch('/api/room', { cache: 'no-store' });
    const s = await r.json();
    if (!r.ok) throw new Error(s.error || r.status);
    const all = latest(s.learners);
    const stuck = all.filter(l => !l.pass).length;
    document.getElementById('summary').textContent =
      `${all.length} learners · ${stuck} not yet 未通过 · ${all.length - stuck} passed 通过`;
    const board = document.getElementById('board');
    board.replaceChildren(...(all.length ? all.map(l => card(l, s.now))
      : [el('div', 'empty', 'No verdicts yet: learners run ./lab check NN --room URL · 还没有结果')]));
  } catch (e) {
    document.getElementById('summary').textContent = `no answer from the dashboard: ${e.message}`;
  }
}

tick();
setInterval(tick, 1000);
