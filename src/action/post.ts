/** The post step. Cleanup of cancelled runs arrives with the action issue (#6). */
export async function runPost(): Promise<void> {}
