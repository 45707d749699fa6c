"""The rig's Lambda service: one worker process per function with its role's keys, SNS deliveries and SQS event
sources invoking them, and `chalice local` for the API functions."""
