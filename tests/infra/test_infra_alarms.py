"""Failures nobody would otherwise see raise CloudWatch alarms that publish to the close topic, where
notify posts them to Slack: any pipeline function's errors, the reconcile not running, dead letters
left unannounced. The alarms watch the functions by the names Chalice gives them.

moto's CloudFormation does not create ``AWS::CloudWatch::Alarm`` resources, so the alarms are asserted
from the template (as the other resources moto does not apply); cfn-lint checks their properties."""

from __future__ import annotations

import json
from typing import Any

from infra.stage_settings import lambda_name
from tests.infra.infra_stacks import PIPELINE_TEMPLATE, REPO, load_template, resources_of_type

CONFIG = json.loads((REPO / ".chalice" / "config.json").read_text())
TEMPLATE = load_template(PIPELINE_TEMPLATE)
ALARMS = {name: res["Properties"] for name, res in resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm").items()}


def function_watched(alarm: dict[str, Any]) -> str:
    """The FunctionName an alarm watches, with the template's default prefix."""
    [dimension] = alarm["Dimensions"]
    assert dimension["Name"] == "FunctionName"
    prefix = TEMPLATE["Parameters"]["LambdaFunctionPrefix"]["Default"]
    return dimension["Value"]["Fn::Sub"].replace("${LambdaFunctionPrefix}", prefix)


def test_every_pipeline_function_has_an_errors_alarm_by_the_name_chalice_gives_it() -> None:
    functions = {lambda_name(CONFIG["app_name"], "prod", name) for name in CONFIG["stages"]["prod"]["lambda_functions"]}
    errors = [a for a in ALARMS.values() if a["MetricName"] == "Errors"]
    assert sorted(function_watched(a) for a in errors) == sorted(functions)
    for alarm in errors:
        assert (alarm["Namespace"], alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
            "AWS/Lambda", "Sum", "GreaterThanThreshold", 0)


def test_every_alarm_publishes_to_the_close_topic_where_notify_posts_it() -> None:
    assert len(ALARMS) == 9
    for name, alarm in ALARMS.items():
        assert alarm["AlarmActions"] == [{"Ref": "CloseTopic"}], name


def test_a_reconcile_that_stops_running_raises_an_alarm() -> None:
    [alarm] = [a for a in ALARMS.values() if a["MetricName"] == "Invocations"]
    assert function_watched(alarm) == "pushdeploy-prod-reconcile"
    assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["TreatMissingData"]) == (
        "LessThanThreshold", 1, "breaching"), "no datapoint at all (never invoked) must alarm too"
    assert alarm["Period"] * alarm["EvaluationPeriods"] == 15 * 60, "three missed 5-minute runs"


def test_dead_letters_left_unannounced_raise_an_alarm() -> None:
    [alarm] = [a for a in ALARMS.values() if a["Namespace"] == "AWS/SQS"]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["BuildDeadLetterQueue",
                                                                                   "QueueName"]}}]
    assert (alarm["MetricName"], alarm["Statistic"]) == ("ApproximateNumberOfMessagesVisible", "Minimum")
    assert alarm["Period"] * alarm["EvaluationPeriods"] >= 3 * 300, "longer than two reconcile runs"
