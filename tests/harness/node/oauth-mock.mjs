// usage: node oauth-mock.mjs PORT -> OAuth2/OIDC server on 127.0.0.1:PORT
// (npm oauth2-mock-server) with what the tests need on top:
//  - RFC 7009 /revoke (form or JSON) that really revokes: a later
//    grant_type=refresh_token with a revoked token gets
//    400 {"error":"invalid_grant"};
//  - GET /_test/counts -> {"authorization_code":n,"refresh_token":n,"revoke":n}
//    so tests can count token requests at the server.
import http from 'node:http';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

const port = Number(process.argv[2] || 0);
const issuer = new OAuth2Issuer();
await issuer.keys.generate('RS256');
const service = new OAuth2Service(issuer);
const revoked = new Set();
const counts = { authorization_code: 0, refresh_token: 0, revoke: 0 };
service.on('beforeResponse', (resp, req) => {
  const g = req.body.grant_type;
  if (g in counts) counts[g]++;
  const rt = req.body.refresh_token;
  if (g === 'refresh_token' && revoked.has(rt)) {
    resp.statusCode = 400;
    resp.body = { error: 'invalid_grant', error_description: 'refresh token revoked' };
  }
});
const app = service.requestHandler;
const srv = http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  if (req.method === 'GET' && path === '/_test/counts') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(counts));
    return;
  }
  if (req.method !== 'POST' || path !== '/revoke') return app(req, res);
  let b = '';
  req.setEncoding('utf8');
  req.on('data', (c) => { b += c; });
  req.on('end', () => {
    const json = /json/.test(req.headers['content-type'] || '');
    let p = {};
    try { p = json ? JSON.parse(b || '{}') : Object.fromEntries(new URLSearchParams(b)); } catch { p = {}; }
    counts.revoke++;
    if (p.token) revoked.add(p.token);
    res.writeHead(200).end();
  });
});
srv.listen(port, '127.0.0.1', () => {
  issuer.url = `http://127.0.0.1:${srv.address().port}`;
  console.log(`OAUTH_ISSUER=${issuer.url}`);
});
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => srv.close(() => process.exit(0)));
