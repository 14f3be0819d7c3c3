"""Notifications out (rules, deliveries, webhook and e-mail transports) and triggers in.

The signature scheme (:mod:`.signing`) is shared: outgoing webhooks are signed with it and
inbound triggers may require it.
"""
