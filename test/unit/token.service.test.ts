import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenService } from '../../src/features/auth/token.service.ts';
import { AppError } from '../../src/shared/app-error.ts';

const claims = { userId: 'u1', username: 'alice', userType: 2, workspaceId: 'w1', sessionId: 's1' };

function service(now: { t: number }, secret = 'x'.repeat(40)) {
  return new TokenService({ secret, ttlSeconds: 3600, refreshWindowSeconds: 86400, now: () => now.t });
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AppError);
    return error.kind;
  }
  assert.fail('expected a refusal');
}

describe(TokenService.name, () => {
  it('issues a token that verifies back to its claims, with DJI-style custom claims', async () => {
    const now = { t: Date.UTC(2026, 0, 1) };
    const sut = service(now);
    const { token, expiresAt } = await sut.issue(claims);
    assert.equal(expiresAt, now.t / 1000 + 3600);
    assert.deepEqual(await sut.verify(token), { ...claims, expiresAt });
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    assert.equal(payload.workspace_id, 'w1');
    assert.equal(payload.user_type, '2');
  });

  it('hands out a different token each time, even within one second (a refresh after a login)', async () => {
    const sut = service({ t: Date.UTC(2026, 0, 1) });
    const first = await sut.issue(claims);
    const second = await sut.issue(claims);
    assert.notEqual(first.token, second.token);
    assert.equal(first.expiresAt, second.expiresAt);
  });

  it('refuses missing, garbage, tampered, foreign-key and "none"-algorithm tokens', async () => {
    const now = { t: Date.now() };
    const sut = service(now);
    const { token } = await sut.issue(claims);
    assert.equal(await refusal(sut.verify(undefined)), 'TokenMissing');
    assert.equal(await refusal(sut.verify('garbage')), 'TokenInvalid');
    const [h, p, s] = token.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), workspace_id: 'w2' }),
    ).toString('base64url');
    assert.equal(await refusal(sut.verify(`${h}.${forged}.${s}`)), 'TokenInvalid');
    const other = await service(now, 'y'.repeat(40)).issue(claims);
    assert.equal(await refusal(sut.verify(other.token)), 'TokenInvalid');
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${p}.`;
    assert.equal(await refusal(sut.verify(none)), 'TokenInvalid');
  });

  it('refuses an expired token but lets it refresh within the window, never after', async () => {
    const now = { t: Date.now() };
    const sut = service(now);
    const { token } = await sut.issue(claims);
    now.t += 3601_000;
    assert.equal(await refusal(sut.verify(token)), 'TokenExpired');
    assert.equal((await sut.verifyForRefresh(token)).userId, 'u1');
    now.t += 86400_000;
    assert.equal(await refusal(sut.verifyForRefresh(token)), 'TokenExpired');
  });

  it('refresh still checks the signature of an expired token', async () => {
    const now = { t: Date.now() };
    const { token } = await service(now, 'z'.repeat(40)).issue(claims);
    now.t += 3601_000;
    assert.equal(await refusal(service(now).verifyForRefresh(token)), 'TokenInvalid');
  });

  it('never issues a token past its session end, and refuses a token that names no session', async () => {
    const now = { t: Date.UTC(2026, 0, 1) };
    const sut = service(now);
    const sessionEnd = now.t / 1000 + 600;
    const { token, expiresAt } = await sut.issue(claims, sessionEnd);
    assert.equal(expiresAt, sessionEnd, 'clipped to the session, not the 3600 s lifetime');
    assert.equal((await sut.verify(token)).sessionId, 's1');
    // A token signed with the right key but from before sessions existed (no `sid`).
    const { sessionId: _, ...old } = claims;
    const legacy = await sut.issue(old as typeof claims);
    assert.equal(await refusal(sut.verify(legacy.token)), 'TokenInvalid');
  });
});
