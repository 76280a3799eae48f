export {
  type ActionEnvelope,
  errorEnvelope,
  resultEnvelope,
  resultOf,
} from './action-envelope.js';
export {
  CONTROL_SOCKET,
  type ControlListener,
  controlSocketPath,
  listenForActions,
  requestAction,
} from './control-socket.js';
export {
  OPERATOR_ACTIONS,
  type OperatorActionName,
  type OperatorRequest,
  OperatorRequestSchema,
  type OperatorResult,
  OperatorResultSchema,
} from './operator-action.js';
export {
  isOperatorErrorCode,
  OPERATOR_ERRORS,
  OperatorError,
  type OperatorErrorCode,
} from './operator-error.js';
