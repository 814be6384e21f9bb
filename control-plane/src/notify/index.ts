// Notifications: channels, the outbox, the delivery worker, run-event rules and templates.
export {
  ChannelStore,
  checkChannelName,
  channelInfo,
  DEFAULT_SMS_TEMPLATE,
  type ChannelInfo,
  type NewChannel,
  type ChannelRow,
} from "./channels";
export {
  enqueueNotification,
  listDeliveries,
  RETRY_SCHEDULE_MS,
  type NewNotification,
  type DeliveryRow,
  type DeliveryAttemptRow,
} from "./outbox";
export { NotifyWorker, pendingDeliveries, type NotifyWorkerOptions } from "./worker";
export { notifyRunEvent, matchingRules, isNotifyEvent } from "./run-notify";
export {
  renderTemplate,
  maskSecrets,
  templateProblems,
  DEFAULT_BODY,
  DEFAULT_SUBJECT,
  type NotifyContext,
} from "./templates";
export { targetPolicy, resolveTarget, RefusedTargetError, type TargetPolicy } from "./ssrf";
export { signatureHeaders, renderMessage } from "./senders";
