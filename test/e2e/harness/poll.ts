/**
 * Asks `check` up to `tries` times, `intervalMs` apart, until it answers `want`; resolves to the
 * last answer. A connection test uses it both ways: an allowed connection may take a moment to be
 * programmed, and a dropped one must stay dropped for as long as an allowed one would take.
 */
export async function settlesAs(check: () => Promise<boolean>, want: boolean, tries = 20, intervalMs = 250): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if ((await check()) === want) return want;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return !want;
}
