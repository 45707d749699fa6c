"""AWS as the rig stands it in: moto in server mode (``server``), and every place moto is made to behave as AWS
does where pushdeploy depends on it, each a small patch installed in the moto process by ``server.main``:

- ``server``: ECS rollouts (a new PRIMARY deployment per update), SNS http deliveries (message attributes, sent
  after Publish answers, in order);
- ``faults``: the fault suite's switches (ECS refusals, stuck rollouts, a ``stopping`` phase, a lost receive
  answer), read from a file the rig rewrites while moto runs;
- ``sqs_receive``: one FIFO message group to one consumer at a time under concurrent receives, and
  ``ReceiveRequestAttemptId``;
- ``fifo``: five-minute deduplication for FIFO queues and topics;
- ``iam``: the IAM action names AWS checks where they differ from the operation, and unsigned ConfirmSubscription;
- ``metrics``: SQS's age-of-oldest-message metric and EC2's LaunchTime on start;
- ``dynamodb``: a Query costs what its page costs;
- ``apigateway``: chalice's Swagger 2.0 import with its sigv4 security;
- ``launch_templates``: a stack's instance launches from its launch template.

Nothing here is imported by the product (``app.py``, ``chalicelib/``, ``agent/``).
"""
