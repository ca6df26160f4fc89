import { describe, expect, it } from 'vitest';
import { errorMessage, type ErrorContext } from './errors';

describe('error messages', () => {
  it.each<[string, ErrorContext, string]>([
    ['NotAuthorizedException', 'signIn', 'Wrong email or password.'],
    ['UserNotFoundException', 'signIn', 'Wrong email or password.'],
    ['NotAuthorizedException', 'challenge', 'This sign-in attempt has expired. Sign in again.'],
    ['NotAuthorizedException', 'session', 'Your session has ended. Sign in again.'],
    ['CodeMismatchException', 'challenge', 'That code is not right. Try the current one from your authenticator app.'],
    ['CodeMismatchException', 'reset', 'That code is not right. Use the code from the latest email.'],
    ['ExpiredCodeException', 'reset', 'That code has expired. Ask for a new one.'],
    ['LimitExceededException', 'reset', 'Too many attempts. Wait a while and try again.'],
    [
      'InvalidPasswordException',
      'challenge',
      'That password is too weak: use 12+ characters with upper and lower case, a digit and a symbol.',
    ],
    ['NetworkError', 'session', 'Could not reach the sign-in service.'],
  ])('%s in %s reads: %s', (type, context, message) => {
    expect(errorMessage(type, context)).toBe(message);
  });

  it('never tells an unknown account from a wrong password or code', () => {
    expect(errorMessage('UserNotFoundException', 'signIn')).toBe(errorMessage('NotAuthorizedException', 'signIn'));
    expect(errorMessage('UserNotFoundException', 'reset')).toBe(errorMessage('CodeMismatchException', 'reset'));
  });

  it("drops the type's namespace and names types it does not know", () => {
    expect(errorMessage('com.amazonaws.cognito#CodeMismatchException', 'reset')).toBe(errorMessage('CodeMismatchException', 'reset'));
    expect(errorMessage('InternalErrorException', 'reset')).toBe('The password could not be reset (InternalErrorException).');
    expect(errorMessage('', 'session')).toBe('The request failed (no answer).');
  });
});
