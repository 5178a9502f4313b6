/**
 * Figure 5: a hand-written SVG timeline of one measured failover: acknowledged and failed writes per 50 ms
 * bucket through the proxy Service, with the kill, +sdown, +odown, +switch-master and the proxy switch marked.
 */
import { KillSample } from './failover';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function failoverSvg(k: KillSample, title: string): string {
  const BUCKET = 50;
  const t0 = -1000;
  const t1 = Math.ceil((k.gapMs + 1200) / 1000) * 1000;
  const W = 960;
  const H = 420;
  const L = 60;
  const R = 20;
  const labelTop = 58; // one row of labels per mark, above the plot
  const top = 138;
  const mid = 290; // baseline between successes (up) and failures (down)
  const bottom = 360;
  const x = (t: number) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const n = Math.ceil((t1 - t0) / BUCKET);
  const ok = new Array<number>(n).fill(0);
  const bad = new Array<number>(n).fill(0);
  for (const t of k.acks) if (t >= t0 && t < t1) ok[Math.floor((t - t0) / BUCKET)]++;
  for (const t of k.fails) if (t >= t0 && t < t1) bad[Math.floor((t - t0) / BUCKET)]++;
  const maxOk = Math.max(1, ...ok);
  const maxBad = Math.max(1, ...bad);
  const bw = x(t0 + BUCKET) - x(t0) - 1;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${L}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="${L}" y="38" fill="#555">writes per ${BUCKET} ms through the proxy Service: acknowledged (green, up, max ${maxOk}) and failed (red, down, max ${maxBad}); time from the SIGKILL</text>`);
  // gap shading
  out.push(`<rect x="${x(0).toFixed(1)}" y="${top}" width="${(x(k.gapMs) - x(0)).toFixed(1)}" height="${bottom - top}" fill="#fbe9e7"/>`);
  // grid and axis
  for (let t = t0; t <= t1; t += 1000) {
    out.push(`<line x1="${x(t).toFixed(1)}" y1="${top}" x2="${x(t).toFixed(1)}" y2="${bottom}" stroke="#ddd"/>`);
    out.push(`<text x="${x(t).toFixed(1)}" y="${bottom + 16}" text-anchor="middle" fill="#333">${t / 1000} s</text>`);
  }
  out.push(`<line x1="${L}" y1="${mid}" x2="${W - R}" y2="${mid}" stroke="#333"/>`);
  for (let i = 0; i < n; i++) {
    const bx = x(t0 + i * BUCKET).toFixed(1);
    if (ok[i]) {
      const h = (ok[i] / maxOk) * (mid - top - 10);
      out.push(`<rect x="${bx}" y="${(mid - h).toFixed(1)}" width="${bw.toFixed(1)}" height="${h.toFixed(1)}" fill="#2e7d32"/>`);
    }
    if (bad[i]) {
      const h = (bad[i] / maxBad) * (bottom - mid - 10);
      out.push(`<rect x="${bx}" y="${mid}" width="${bw.toFixed(1)}" height="${h.toFixed(1)}" fill="#c62828"/>`);
    }
  }
  const first = (ch: string) => k.events.find((e) => e.channel === ch && (ch === '+switch-master' || e.message.startsWith('master ')));
  const marks: Array<{ t: number; label: string; color: string }> = [{ t: 0, label: 'SIGKILL master', color: '#000' }];
  for (const [ch, color] of [['+sdown', '#ef6c00'], ['+odown', '#6a1b9a'], ['+switch-master', '#1565c0']] as const) {
    const e = first(ch);
    if (e) marks.push({ t: e.t, label: `${ch} ${e.t} ms`, color });
  }
  marks.push({ t: k.gapMs, label: `proxy switch: first write acked on the new master ${k.gapMs} ms`, color: '#2e7d32' });
  marks.sort((a, b) => a.t - b.t);
  marks.forEach((m, i) => {
    const mx = x(m.t).toFixed(1);
    const ly = labelTop + i * 16;
    out.push(`<line x1="${mx}" y1="${ly - 10}" x2="${mx}" y2="${bottom}" stroke="${m.color}" stroke-width="1.5" stroke-dasharray="${m.t === 0 ? '' : '4 3'}"/>`);
    const anchor = x(m.t) > W - 420 ? 'end' : 'start';
    out.push(`<text x="${(Number(mx) + (anchor === 'end' ? -4 : 4)).toFixed(1)}" y="${ly}" fill="${m.color}" text-anchor="${anchor}">${esc(m.label)}</text>`);
  });
  out.push(`<text x="${L}" y="${H - 12}" fill="#555">${esc(`killed ${k.killed}, promoted ${k.promoted}; write gap ${k.gapMs} ms, first +switch-master ${k.switchMs} ms`)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
