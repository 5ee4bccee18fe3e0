-- 011: notification channels.
--
-- phone is the user's number in E.164 form ("+" and 8 to 15 digits, checked
-- by the API), '' for none; it is handed to the webhook (an SMS gateway
-- behind it can text the user).  webhook_notify: 1 when the user's missed
-- direct messages and mentions go to the webhook (when one is configured),
-- as email_notify (002) does for mail.
ALTER TABLE users ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN webhook_notify INTEGER NOT NULL DEFAULT 1;
