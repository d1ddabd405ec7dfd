import * as http from 'http';

/** One POST of the Docker plugin protocol to the agent's unix socket, as Docker itself sends it. */
export function pluginRequest(socketPath: string, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        socketPath,
        path,
        method: 'POST',
        headers: { 'Content-Type': 'application/vnd.docker.plugins.v1.2+json', 'Content-Length': Buffer.byteLength(body) },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    request.setTimeout(10_000, () => request.destroy(new Error(`${path}: no answer within 10 s`)));
    request.on('error', reject);
    request.end(body);
  });
}
