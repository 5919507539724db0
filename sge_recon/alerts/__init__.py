"""Alerting: the runbook's incident rules, the incident lifecycle and the Slack/Discord channels."""

from .channels import DeliveryFailed, Message, discord_payload, slack_payload
from .rules import RULES, Finding, Rule, evaluate_rules
from .service import AlertService, DeliveryReport, Evaluation

__all__ = ["RULES", "AlertService", "DeliveryFailed", "DeliveryReport", "Evaluation", "Finding",
           "Message", "Rule", "discord_payload", "evaluate_rules", "slack_payload"]
