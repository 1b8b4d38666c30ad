/**
 * Token times are wall-clock instants (epoch ms): that is what a server's expires_in, a JWT exp
 * and a store shared by replicas speak. But the wall clock steps: NTP corrects it, a VM is
 * restored. Elapsed time is what the monotonic clock measures, except that it stops while the
 * machine sleeps, which the wall clock does not miss. So an instant counts as reached when
 * either clock says so: `max(wall, monotonic + anchor)`, where the anchor is `wall - monotonic`
 * taken when the tokens were obtained. A step back cannot make a dead token look alive; a
 * step forward (or a sleep) at worst makes a refresh come early.
 */
export function clockAnchor(wall: number = Date.now(), monotonic: number = performance.now()): number {
  return wall - monotonic;
}

/** The later of the two clocks' readings, as epoch ms, for tokens anchored at `anchor`. */
export function anchoredNow(anchor: number, wall: number = Date.now(), monotonic: number = performance.now()): number {
  return Math.max(wall, monotonic + anchor);
}
