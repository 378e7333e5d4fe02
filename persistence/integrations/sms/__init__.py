"""SMS port: a local log by default, Twilio (official SDK) when configured."""

from persistence.integrations.sms.port import SmsMessage, SmsPort, sms_port

__all__ = ["SmsMessage", "SmsPort", "sms_port"]
