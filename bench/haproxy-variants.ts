/**
 * haproxy.cfg variants derived from the chart's rendered config, for baselines and experiments. Each
 * transformation checks that the lines it rewrites exist, so a change of the chart's config fails loudly here.
 */

function must(cond: boolean, what: string): void {
  if (!cond) throw new Error(`haproxy-variants: ${what} (the chart's haproxy.cfg changed?)`);
}

/**
 * The common HAProxy setup for Redis: the same role:master check on every server, no sentinel lookups; servers
 * take part in normal round-robin balancing, so every server that says role:master gets connections.
 */
export function roleOnlyCfg(chartCfg: string): string {
  const lines = chartCfg.split('\n');
  const out: string[] = [];
  let skipping = false;
  for (const line of lines) {
    if (/^# Up while a sentinel names/.test(line) || /^backend sentinels-name-/.test(line)) {
      skipping = true;
      continue;
    }
    if (skipping) {
      if (line.trim() === '') skipping = false;
      continue;
    }
    if (/^\s+acl redis-\d+-(up|named) /.test(line)) continue;
    if (/^\s+lua-load /.test(line)) continue; // the quorum guard reads the sentinel backends
    if (/^\s+tcp-request content reject unless /.test(line)) continue;
    if (/^\s+use-server /.test(line)) continue;
    if (/^# Weight 0/.test(line)) continue;
    if (/\{ path \/ready \} redis-\d+-up/.test(line)) {
      out.push('  http-request return status 200 content-type text/plain string master if { path /ready } { nbsrv(redis-master) ge 1 }');
      continue;
    }
    out.push(line.replace(/ weight 0 /, ' '));
  }
  const cfg = out.join('\n');
  must(!/sentinel|named|use-server|weight 0|lua-load/.test(cfg), 'role-only config still refers to sentinels');
  must(/tcp-check expect (min-recv 0 )?string role:master/.test(cfg), 'role-only config lost the role check');
  must(/nbsrv\(redis-master\) ge 1/.test(cfg), 'role-only config has no readiness rule');
  return `# bench baseline: role:master checks only (the common HAProxy setup for Redis)\n${cfg}`;
}

/** Adds directives to the global and defaults sections (after their first line) and replaces `nbthread`. */
export function tuneCfg(cfg: string, t: { global?: string[]; defaults?: string[]; nbthread?: number }): string {
  let out = cfg;
  if (t.nbthread !== undefined) {
    must(/^ {2}nbthread \d+$/m.test(out), 'no nbthread line');
    out = out.replace(/^ {2}nbthread \d+$/m, `  nbthread ${t.nbthread}`);
  }
  if (t.global?.length) {
    must(/^global$/m.test(out), 'no global section');
    out = out.replace(/^global$/m, ['global', ...t.global.map((d) => `  ${d}`)].join('\n'));
  }
  if (t.defaults?.length) {
    must(/^defaults$/m.test(out), 'no defaults section');
    out = out.replace(/^defaults$/m, ['defaults', ...t.defaults.map((d) => `  ${d}`)].join('\n'));
  }
  return out;
}
