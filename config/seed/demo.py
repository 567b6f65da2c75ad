"""The seed ``directlink up`` uses when none is given; etc/seed-demo.yaml is a copy."""

from __future__ import annotations

DEMO_SEED = """\
# directlink demo seed: the bank, its customers and their opening balances, as
# `directlink up` creates them when no --seed is given.
#
# Amounts are yuan with two decimals, always quoted: an unquoted YAML number
# would lose precision. Numbers that are codes (bank_no, corp_no, user_no,
# acno) are quoted too, or YAML would drop their leading zeros.
bank:
  name: Simulated Bank
  bank_no: "301290000007"          # this bank's 12-digit routing number
  # business_date: "2026-11-24"    # optional; default: today

enterprises:
  - corp_no: "0000000001"          # enterprise code (e-banking customer number)
    name: Demo Insurance Co., Ltd.
    users:
      - user_no: "001"             # direct-connect operator
    limits:                        # optional, yuan: per transfer and per day
      single: "5000000.00"
      daily: "20000000.00"
    accounts:
      - acno: "310066726018010000001"
        name: Demo Insurance Co., Ltd.
        currency: CNY
        balance: "1000000.00"
        opened: "2020-01-01"       # optional
      - acno: "310066726018010000002"
        name: Demo Insurance Co., Ltd.
        currency: CNY
        balance: "250000.00"
      - acno: "310066726018010000003"
        name: Demo Insurance Co., Ltd.
        currency: CNY
        balance: "5000.00"
        status: frozen             # active (default) | frozen | closed
        # hold: "0.00"             # optional: held, excluded from the available balance

  - corp_no: "0000000002"
    name: Demo Trading Co., Ltd.
    users:
      - user_no: "001"
    accounts:
      - acno: "310066726018010000101"
        name: Demo Trading Co., Ltd.
        currency: CNY
        balance: "500000.00"

external_accounts:                 # accounts at other banks
  - acno: "6222020200000000001"
    name: Zhang San
    bank_no: "102100099996"
    bank_name: ICBC Beijing Branch
    status: active
  - acno: "6222020200000000002"
    name: Li Si
    bank_no: "102100099996"
    bank_name: ICBC
    status: active
  - acno: "6217000010000000003"
    name: Wang Wu
    bank_no: "105100000017"
    bank_name: China Construction Bank Beijing
    status: closed                 # transfers to it fail and are returned
  - acno: "6222020200000000004"
    name: Zhao Liu
    bank_no: "102100099996"
    bank_name: ICBC Beijing Branch
    balance: "300.00"              # optional: the other bank checks funds when
                                   # this bank collects from it (none: it always pays)

# Individuals' accounts at this bank (CNY): payroll payees and premium payers.
# For many, write `personal_accounts: {file: payers.csv}`: a UTF-8 CSV beside
# this file whose header row names the same keys.
personal_accounts:
  - acno: "6222600100000000001"
    name: 张三
    id_no: "110101199003070011"    # 18-character resident ID: 17 digits, then a digit or X
    balance: "5000.00"
  - acno: "6222600100000000002"
    name: 李四
    id_no: "110101198805120023"
    balance: "12000.00"
  - acno: "6222600100000000003"
    name: 王五
    id_no: "11010119920115003X"
    balance: "10.00"               # too little for most collections
  - acno: "6222600100000000004"
    name: 赵六
    id_no: "110101198001010044"
    balance: "3000.00"
    status: frozen                 # active (default) | frozen | closed
  - acno: "6222600100000000005"
    name: 钱七
    id_no: "110101197512310055"
    status: closed

# Collection agreements (代扣协议): the payer lets the enterprise collect into
# its account. The payer is a personal account above or an external account.
# Also `agreements: {file: agreements.csv}`.
agreements:
  - agreement_no: "AG0000000001"
    corp_no: "0000000001"
    rcv_acno: "310066726018010000001"    # the enterprise's collecting account
    payer_acno: "6222600100000000001"
    payer_name: 张三
    max_amt: "2000.00"             # optional: at most this per collection
    valid_to: "2030-12-31"         # optional: the last valid day
  - agreement_no: "AG0000000002"
    corp_no: "0000000001"
    rcv_acno: "310066726018010000001"
    payer_acno: "6222600100000000002"
    payer_name: 李四
    max_amt: "100.00"              # a low maximum
  - agreement_no: "AG0000000003"
    corp_no: "0000000001"
    rcv_acno: "310066726018010000001"
    payer_acno: "6222600100000000003"
    payer_name: 王五
  - agreement_no: "AG0000000004"
    corp_no: "0000000001"
    rcv_acno: "310066726018010000001"
    payer_acno: "6222600100000000004"
    payer_name: 赵六
  - agreement_no: "AG0000000005"
    corp_no: "0000000001"
    rcv_acno: "310066726018010000001"
    payer_acno: "6222600100000000005"
    payer_name: 钱七
  - agreement_no: "AG0000000006"
    corp_no: "0000000001"
    rcv_acno: "310066726018010000001"
    payer_acno: "6222600100000000001"
    payer_name: 张三
    status: revoked                # active (default) | revoked
  - agreement_no: "AG0000000007"
    corp_no: "0000000001"
    rcv_acno: "310066726018010000001"
    payer_acno: "6222600100000000002"
    payer_name: 李四
    valid_to: "2020-12-31"         # expired
  - agreement_no: "AG0000000008"
    corp_no: "0000000001"
    rcv_acno: "310066726018010000001"
    payer_acno: "6222020200000000001"    # at another bank, which always pays
    payer_name: Zhang San
  - agreement_no: "AG0000000009"
    corp_no: "0000000001"
    rcv_acno: "310066726018010000001"
    payer_acno: "6222020200000000004"    # at another bank, with 300.00
    payer_name: Zhao Liu
"""
