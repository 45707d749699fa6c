"""IAM on the rig: the admin principal and one role per part (``principals``), the policies each part holds on
AWS (``part_policies``, ``cfn_policies``) and the evaluator that judges a call with its resource and conditions
(``iam_eval``). The call ledger that uses them is ``localrig/ledger/``."""
