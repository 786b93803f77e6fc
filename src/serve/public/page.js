// The draw page of `mnist-dp serve`: strokes on a canvas, sent as PNG to POST /predict when each stroke
// ends; the server prepares the picture exactly as `mnist-dp predict` does and answers the digit, the ten
// probabilities and the 28×28 image the model read. The live view listens to /events (server-sent events).
'use strict';

const pad = document.getElementById('pad');
const ctx = pad.getContext('2d');
const message = document.getElementById('message');
const bars = document.getElementById('bars');
const digitOut = document.getElementById('digit');
const preview = document.getElementById('preview').getContext('2d');
// About 1/12 of the pad: close to the stroke width of MNIST's digits once scaled into their 20×20 box.
const PEN = pad.width / 12;

let inked = false; // anything drawn since the last clear
let sent = 0; // drawings sent to /predict; answers to older ones than the newest are dropped
let last = null; // the pointer's last position in the stroke
let mid = null; // the midpoint the last curve segment ended at

const barRows = [];
for (let d = 0; d < 10; d++) {
  const label = document.createElement('span');
  label.textContent = String(d);
  const bar = document.createElement('div');
  bar.className = 'bar';
  bar.appendChild(document.createElement('div'));
  const pct = document.createElement('span');
  pct.className = 'pct';
  bars.append(label, bar, pct);
  barRows.push({ bar, pct });
}

function say(text, isError = false) {
  message.textContent = text;
  message.className = isError ? 'error' : '';
}

function clearPad() {
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, pad.width, pad.height);
  preview.fillStyle = '#000';
  preview.fillRect(0, 0, 28, 28);
  inked = false;
  sent++; // an answer still on its way belongs to the old drawing
  document.body.dataset.sent = String(sent);
  digitOut.textContent = '–';
  for (const row of barRows) {
    row.bar.firstChild.style.width = '0';
    row.bar.classList.remove('top');
    row.pct.textContent = '';
  }
  say('Draw a digit in the box.');
}

function point(e) {
  const r = pad.getBoundingClientRect();
  return { x: ((e.clientX - r.left) * pad.width) / r.width, y: ((e.clientY - r.top) * pad.height) / r.height };
}

ctx.lineCap = 'round';
ctx.lineJoin = 'round';

pad.addEventListener('pointerdown', (e) => {
  e.preventDefault();
  pad.setPointerCapture(e.pointerId);
  last = point(e);
  mid = last;
  ctx.fillStyle = '#000';
  ctx.beginPath();
  ctx.arc(last.x, last.y, PEN / 2, 0, 2 * Math.PI);
  ctx.fill();
  inked = true;
});

pad.addEventListener('pointermove', (e) => {
  if (!last) return;
  // Every position the browser saw since the last event, joined by quadratic curves through the
  // midpoints: a smooth stroke even when events come sparsely.
  const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [e];
  ctx.strokeStyle = '#000';
  ctx.lineWidth = PEN;
  for (const ev of events.length > 0 ? events : [e]) {
    const p = point(ev);
    const m = { x: (last.x + p.x) / 2, y: (last.y + p.y) / 2 };
    ctx.beginPath();
    ctx.moveTo(mid.x, mid.y);
    ctx.quadraticCurveTo(last.x, last.y, m.x, m.y);
    ctx.stroke();
    last = p;
    mid = m;
  }
});

function endStroke() {
  if (!last) return;
  ctx.beginPath();
  ctx.moveTo(mid.x, mid.y);
  ctx.lineTo(last.x, last.y);
  ctx.stroke();
  last = null;
  predict();
}
pad.addEventListener('pointerup', endStroke);
pad.addEventListener('pointercancel', endStroke);

function showAnswer(a) {
  digitOut.textContent = String(a.digit);
  a.probabilities.forEach((p, d) => {
    barRows[d].bar.firstChild.style.width = `${(p * 100).toFixed(1)}%`;
    barRows[d].bar.classList.toggle('top', d === a.digit);
    barRows[d].pct.textContent = `${(p * 100).toFixed(1)} %`;
  });
  const { width, height, pixels } = a.image;
  const img = preview.createImageData(width, height);
  pixels.forEach((v, i) => {
    const g = Math.round(v * 255); // white ink on black, as MNIST's images are usually shown
    img.data.set([g, g, g, 255], 4 * i);
  });
  preview.putImageData(img, 0, 0);
  say(`${a.digit} at ${(a.probability * 100).toFixed(1)} %`);
}

async function predict() {
  if (!inked) return say('Nothing drawn yet: draw a digit in the box.');
  const id = ++sent;
  document.body.dataset.sent = String(id);
  const blob = await new Promise((resolve) => pad.toBlob(resolve, 'image/png'));
  try {
    const res = await fetch('predict', { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: blob });
    const answer = await res.json();
    if (id !== sent) return; // a newer drawing is on its way
    if (res.ok) showAnswer(answer);
    else say(answer.error, true);
  } catch (err) {
    if (id === sent) say(`The server did not answer (${err.message}); is mnist-dp serve still running?`, true);
  } finally {
    if (id === sent) document.body.dataset.answered = String(id);
  }
}

document.getElementById('clear').addEventListener('click', clearPad);
clearPad();

// The live view: the run's curves, rendered by the server as SVG, replaced after every epoch.
const live = document.getElementById('live');
const liveCharts = document.getElementById('live-charts');
function showRun(s) {
  live.hidden = s.status === 'none';
  if (live.hidden) return;
  document.getElementById('live-run').textContent = s.run ?? '';
  const n = s.metrics.length;
  const lastEpoch = s.metrics[n - 1];
  const state = { training: 'training', done: 'finished', watching: 'watching the checkpoint' }[s.status];
  const parts = [`${state}: ${n}${s.epochs ? ` of ${s.epochs}` : ''} epochs`];
  if (lastEpoch && lastEpoch.valAccuracy !== null) parts.push(`validation accuracy ${(lastEpoch.valAccuracy * 100).toFixed(2)} %`);
  if (s.testAccuracy !== null) parts.push(`test accuracy ${(s.testAccuracy * 100).toFixed(2)} %`);
  document.getElementById('live-status').textContent = [parts.join(' · '), ...s.notes].join('. ');
  liveCharts.replaceChildren(...s.charts.map((c) => {
    const fig = document.createElement('figure');
    fig.dataset.chart = c.name;
    const caption = document.createElement('figcaption');
    caption.textContent = c.title;
    fig.appendChild(caption);
    fig.insertAdjacentHTML('beforeend', c.svg); // SVG rendered by this server
    return fig;
  }));
  live.dataset.points = String(n);
}
const source = new EventSource('events');
source.addEventListener('run', (e) => showRun(JSON.parse(e.data)));
