// What Cognito's error types mean to the person in front of the page. The same type means different
// things in different places (NotAuthorizedException is a wrong password at sign-in, an expired
// challenge afterwards, a revoked session once signed in), so the message depends on where it happened.
// No message says whether an account exists: an unknown email reads like a wrong password, and a
// password reset for one reads like a code that does not match.

/** Where a Cognito call failed. */
export type ErrorContext = 'signIn' | 'challenge' | 'reset' | 'session';

/** The error type of a call that never got an answer (offline, DNS, blocked by the browser). */
export const NETWORK_ERROR = 'NetworkError';

export const SESSION_ENDED = 'Your session has ended. Sign in again.';

const PASSWORD_RULES = 'That password is too weak: use 12+ characters with upper and lower case, a digit and a symbol.';
const AUTHENTICATOR_CODE_WRONG = 'That code is not right. Try the current one from your authenticator app.';
const TOO_MANY = 'Too many attempts. Wait a while and try again.';

const SHARED: Record<string, string> = {
  [NETWORK_ERROR]: 'Could not reach the sign-in service.',
  TooManyRequestsException: 'Too many attempts. Wait a minute and try again.',
  LimitExceededException: TOO_MANY,
  TooManyFailedAttemptsException: TOO_MANY,
  InvalidPasswordException: PASSWORD_RULES,
};

const MESSAGES: Record<ErrorContext, Record<string, string>> = {
  signIn: {
    NotAuthorizedException: 'Wrong email or password.',
    UserNotFoundException: 'Wrong email or password.',
    PasswordResetRequiredException: 'This account needs a new password: use “Forgot password?” to choose one.',
    UserNotConfirmedException: 'This account is not confirmed yet.',
  },
  challenge: {
    // Cognito's session for a challenge lasts 3 minutes and may be used once.
    NotAuthorizedException: 'This sign-in attempt has expired. Sign in again.',
    CodeMismatchException: AUTHENTICATOR_CODE_WRONG,
    EnableSoftwareTokenMFAException: AUTHENTICATOR_CODE_WRONG,
    ExpiredCodeException: 'That code has expired. Enter the current one from your authenticator app.',
  },
  reset: {
    CodeMismatchException: 'That code is not right. Use the code from the latest email.',
    // A reset for an unknown email fails only at the code, like a wrong code.
    UserNotFoundException: 'That code is not right. Use the code from the latest email.',
    ExpiredCodeException: 'That code has expired. Ask for a new one.',
    CodeDeliveryFailureException: 'The code could not be sent. Try again later.',
    NotAuthorizedException:
      'The password cannot be reset this way now. If you were invited recently, sign in with the temporary password from the invitation email.',
    InvalidParameterException:
      'The password cannot be reset this way now. If you were invited recently, sign in with the temporary password from the invitation email.',
  },
  session: {
    NotAuthorizedException: SESSION_ENDED,
    CodeMismatchException: AUTHENTICATOR_CODE_WRONG,
    EnableSoftwareTokenMFAException: AUTHENTICATOR_CODE_WRONG,
    ExpiredCodeException: 'That code has expired. Enter the current one from your authenticator app.',
  },
};

const FALLBACK: Record<ErrorContext, string> = {
  signIn: 'Sign-in failed',
  challenge: 'Sign-in failed',
  reset: 'The password could not be reset',
  session: 'The request failed',
};

/** The message for a Cognito error type (`__type`, with or without its `namespace#` prefix). */
export function errorMessage(type: string, context: ErrorContext): string {
  const bare = type.split('#').pop() ?? type;
  return MESSAGES[context][bare] ?? SHARED[bare] ?? `${FALLBACK[context]} (${bare || 'no answer'}).`;
}
