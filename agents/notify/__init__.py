"""The notifier: routes status changes to subscribers, groups them per recipient in a
changelogged table, and sends mails and webhooks with retries."""
