"""Source text of the Brightwater Dynamics knowledge base (a fictional company).

``scripts/build_kb.py`` turns this module into ``data/kb/``: Markdown, CSV and JSON files are written
as they are, PDFs are typeset with fpdf2, and the question set is written beside them. Each document
carries its questions, so that a question's gold document and section (or page) cannot drift from the
text that supports it. Every fact here is invented.
"""

from __future__ import annotations

COMPANY = "Brightwater Dynamics B.V."
INTERNAL_PROJECTS = ["Project Kestrel", "Project Bluefin", "Project Sable"]


def q(question: str, answer: str, where: str | int, kind: str = "single_fact", aliases=()):
    """One question supported by the document it is declared in; ``where`` is a section title
    (Markdown, JSON, CSV) or a 1-based page number (PDF)."""
    return {"question": question, "answer": answer, "where": where, "kind": kind,
            "aliases": list(aliases)}


# --------------------------------------------------------------------------------------------
# Markdown documents: path -> dict(title, type, classification, date, text, questions)
# --------------------------------------------------------------------------------------------
MARKDOWN: list[dict] = []


def md(path, title, type_, classification, date, text, questions=(), **extra):
    MARKDOWN.append(dict(path=path, title=title, type=type_, classification=classification,
                         date=date, text=text.strip() + "\n", questions=list(questions), **extra))


md("policies/travel_expense_policy_2024.md", "Travel and Expense Policy (2024)", "policy", "internal",
   "2024-01-15", """
# Travel and Expense Policy (2024)

Version 3.0, effective 15 January 2024. Owner: Finance (Sofia Lindqvist, CFO).
This version is superseded by the 2025 policy from 1 March 2025.

## Scope
This policy applies to all employees and contractors who travel on company business.

## Meal allowance
Employees receive a daily meal per diem of 45 EUR for each full travel day. Meals that are part of
a conference fee are deducted from the per diem.

## Accommodation
Hotels are capped at 150 EUR per night in all cities. Bookings go through the travel portal.

## Flights and rail
Economy class is required for all flights. Rail is preferred for journeys under 400 km.

## Submitting expenses
Expense claims must be submitted within 30 days of the end of the trip, with receipts.
Claims above 2,000 EUR need approval by the CFO; all others by the line manager.
""", [
    q("What was the daily meal per diem under the 2024 travel policy?", "45 EUR", "Meal allowance", aliases=["45"]),
    q("Within how many days did the 2024 travel policy require expense claims to be submitted?", "30 days", "Submitting expenses", aliases=["30"]),
])

md("policies/travel_expense_policy_2025.md", "Travel and Expense Policy (2025)", "policy", "internal",
   "2025-03-01", """
# Travel and Expense Policy (2025)

Version 4.0, effective 1 March 2025. Owner: Finance (Sofia Lindqvist, CFO).
Supersedes version 3.0 of 15 January 2024.

## Scope
This policy applies to all employees and contractors who travel on company business.

## Meal allowance
Employees receive a daily meal per diem of 55 EUR for each full travel day, and half of that on
the days of departure and return. Alcohol is never reimbursed.

## Accommodation
Hotels are capped at 170 EUR per night, or 230 EUR per night in London, Paris and Zurich.
Bookings go through the travel portal; exceptions need written approval by the line manager.

## Flights and rail
Economy class is required for flights under 6 hours; premium economy is allowed above 6 hours.
Rail is mandatory for journeys under 700 km when the train takes less than 6 hours.
Use of a private car is reimbursed at 0.23 EUR per km.

## Submitting expenses
Expense claims must be submitted within 45 days of the end of the trip, with receipts.
Claims above 2,500 EUR need approval by the CFO; all others by the line manager.
""", [
    q("What is the current daily meal per diem for business travel?", "55 EUR", "Meal allowance", aliases=["55"]),
    q("What is the hotel cap per night in Paris under the current travel policy?", "230 EUR", "Accommodation", aliases=["230"]),
    q("How much is reimbursed per kilometre for a private car?", "0.23 EUR", "Flights and rail", aliases=["0.23", "23 cent"]),
    q("Within how many days must expense claims be submitted now?", "45 days", "Submitting expenses", aliases=["45"]),
    q("Above what amount does an expense claim need CFO approval under the 2025 policy?", "2,500 EUR", "Submitting expenses", aliases=["2500", "2,500"]),
    q("Below what distance is rail mandatory under the 2025 travel policy?", "700 km", "Flights and rail", aliases=["700"]),
])

md("policies/remote_work_policy.md", "Remote Work Policy", "policy", "internal", "2024-06-01", """
# Remote Work Policy

Effective 1 June 2024. Owner: People team (Claire Dubois).

## Eligibility
All employees who have completed their first month may work remotely.

## Remote days
Employees may work remotely up to 3 days per week. Teams agree on at least one shared office day.
Core hours, when everyone is reachable, are 10:00 to 15:00 CET.

## Home office allowance
New remote workers receive a one-time home office allowance of 300 EUR and a monthly internet
allowance of 25 EUR.

## Working abroad
Working from another country is allowed for at most 30 days per calendar year and must be
registered with the People team two weeks in advance.
""", [
    q("How many days per week may employees work remotely?", "3 days", "Remote days", aliases=["3", "three"]),
    q("What are the core hours?", "10:00 to 15:00 CET", "Remote days", aliases=["10:00", "10 to 15", "10am"]),
    q("How large is the one-time home office allowance?", "300 EUR", "Home office allowance", aliases=["300"]),
    q("For how many days per year may an employee work from another country?", "30 days", "Working abroad", aliases=["30"]),
])

md("policies/information_security_policy_2023.md", "Information Security Policy (2023)", "policy", "internal",
   "2023-04-01", """
# Information Security Policy (2023)

Version 1.2, effective 1 April 2023. Owner: Security (Yusuf Demir). Superseded in 2025.

## Passwords
Passwords must be at least 10 characters long and must be changed every 90 days.

## Multi-factor authentication
MFA is required for email and the VPN. An authenticator app is sufficient.

## Reporting
A lost or stolen device must be reported to the IT helpdesk within 24 hours.
""", [
    q("How often did the 2023 security policy require passwords to be changed?", "every 90 days", "Passwords", aliases=["90"]),
])

md("policies/information_security_policy_2025.md", "Information Security Policy (2025)", "policy", "internal",
   "2025-02-01", """
# Information Security Policy (2025)

Version 2.0, effective 1 February 2025. Owner: Security (Yusuf Demir, Head of Security).
Supersedes version 1.2 of 1 April 2023.

## Passwords
Passwords must be at least 14 characters long. Following current NIST guidance, passwords are no
longer rotated periodically; they are changed only when a compromise is suspected. A password
manager (1Password) is provided to every employee.

## Multi-factor authentication
MFA is required for every company system. Administrators of production systems must use a
hardware security key.

## Reporting
A lost or stolen device must be reported to security@brightwater.example within 1 hour.

## Classification
Documents are classified public, internal or confidential. Confidential documents may only be
shared with named recipients and never uploaded to external AI tools.
""", [
    q("What is the minimum password length under the current security policy?", "14 characters", "Passwords", aliases=["14"]),
    q("Within what time must a lost laptop be reported under the current security policy?", "1 hour", "Reporting", aliases=["one hour", "1 hour"]),
    q("What kind of MFA must administrators of production systems use?", "hardware security key", "Multi-factor authentication", aliases=["hardware key", "security key"]),
    q("Which password manager is provided to employees?", "1Password", "Passwords"),
])

md("policies/data_retention_policy.md", "Data Retention Policy", "policy", "public", "2024-09-01", """
# Data Retention Policy

Effective 1 September 2024. This policy describes how long Brightwater Cloud keeps customer data.

## Sensor telemetry
Raw sensor telemetry is retained for 24 months. After that it is aggregated to hourly values,
which are kept for 7 years.

## Audit logs
Audit logs of user actions are kept for 18 months.

## Deleted accounts
When a customer closes an account, all personal data is purged within 30 days. Backups that still
contain the data expire after a further 35 days.
""", [
    q("How long is raw sensor telemetry retained?", "24 months", "Sensor telemetry", aliases=["24", "two years", "2 years"]),
    q("How long are audit logs kept?", "18 months", "Audit logs", aliases=["18"]),
    q("Within how many days is personal data purged after an account is closed?", "30 days", "Deleted accounts", aliases=["30"]),
])

md("policies/leave_policy.md", "Leave Policy", "policy", "internal", "2025-01-01", """
# Leave Policy

Effective 1 January 2025. Owner: People team.

## Annual leave
Full-time employees receive 27 days of annual leave plus public holidays. Up to 5 unused days may
be carried over, and they must be taken before 1 April of the following year.

## Parental leave
Every parent receives 16 weeks of parental leave at full pay, to be taken within the first year.

## Sick leave
Employees who are sick notify their manager before 10:00 on the first day. A doctor's note is
needed from the fourth consecutive day.
""", [
    q("How many days of annual leave do full-time employees receive?", "27 days", "Annual leave", aliases=["27"]),
    q("How many weeks of paid parental leave does each parent get?", "16 weeks", "Parental leave", aliases=["16"]),
    q("By when must carried-over leave days be taken?", "before 1 April", "Annual leave", aliases=["1 april", "april 1"]),
    q("From which day of sickness is a doctor's note needed?", "the fourth day", "Sick leave", aliases=["fourth", "4th"]),
])

md("policies/code_of_conduct.md", "Code of Conduct", "policy", "public", "2023-01-10", """
# Code of Conduct

## Our principles
We build products that make buildings use less energy, and we work honestly with customers,
suppliers and each other.

## Gifts and hospitality
Gifts or hospitality worth more than 50 EUR must be declared in the gift register within 7 days.

## Speaking up
Concerns can be raised with a manager, with the ethics officer (Mei Chen, Legal Counsel) or
anonymously through the speak-up line at +31 10 555 0199.
""", [
    q("Above what value must gifts be declared?", "50 EUR", "Gifts and hospitality", aliases=["50"]),
    q("Who is the ethics officer?", "Mei Chen", "Speaking up"),
])

md("policies/procurement_policy.md", "Procurement Policy", "policy", "internal", "2024-03-01", """
# Procurement Policy

Owner: Finance (Elena Petrova, Procurement Manager).

## Quotes
Purchases above 5,000 EUR need two written quotes. Purchases above 25,000 EUR need three quotes and
approval by the CFO.

## Preferred vendors
Buy from the preferred vendor list (vendors.json) where a vendor exists for the category.

## Payment terms
Our standard payment term is 30 days from the invoice date.
""", [
    q("How many quotes are needed for a purchase of 30,000 EUR?", "three quotes", "Quotes", aliases=["three", "3"]),
    q("What is the standard payment term for suppliers?", "30 days", "Payment terms", aliases=["30"]),
])

md("policies/incident_response_policy.md", "Incident Response Policy", "policy", "internal", "2024-05-15", """
# Incident Response Policy

Owner: Site Reliability Engineering (Rui Costa, SRE Lead).

## Severity levels
| Severity | Example | Acknowledge within | Status updates |
|---|---|---|---|
| SEV1 | Cloud platform down for all customers | 15 minutes | every 30 minutes |
| SEV2 | Major feature broken or many devices affected | 30 minutes | every 60 minutes |
| SEV3 | Minor feature broken, workaround exists | 4 hours | daily |
| SEV4 | Cosmetic issue | next business day | none |

## On-call
The on-call engineer is paged through PagerDuty. A second engineer is paged if the first does not
acknowledge in time.

## Postmortems
SEV1 and SEV2 incidents need a blameless postmortem within 5 business days.
""", [
    q("Within how many minutes must a SEV1 incident be acknowledged?", "15 minutes", "Severity levels", "table", aliases=["15"]),
    q("How often are status updates sent during a SEV2 incident?", "every 60 minutes", "Severity levels", "table", aliases=["60", "every hour", "hourly"]),
    q("Within how many business days is a postmortem due after a SEV1 incident?", "5 business days", "Postmortems", aliases=["5", "five"]),
    q("Which tool pages the on-call engineer?", "PagerDuty", "On-call"),
])

md("handbook/onboarding_guide.md", "Onboarding Guide", "handbook", "internal", "2025-01-06", """
# Onboarding Guide

## Your first day
You receive your laptop on the first day from the IT desk on the 3rd floor in Rotterdam.
Every new employee is assigned an onboarding buddy from another team.

## Your first two weeks
Complete the security awareness training within your first 14 days. Book the product tour with
the Product team.

## Probation
The probation period is 2 months for all permanent contracts.
""", [
    q("Within how many days must new employees complete security awareness training?", "14 days", "Your first two weeks", aliases=["14"]),
    q("How long is the probation period?", "2 months", "Probation", aliases=["two months", "2"]),
])

md("support/support_sla.md", "Customer Support SLA", "policy", "public", "2025-01-01", """
# Customer Support Service Levels

Support is available 08:00 to 18:00 CET on business days, and around the clock for Enterprise.

## Support plans
| Plan | Channels | First response | Hours |
|---|---|---|---|
| Basic | email | 2 business days | business hours |
| Pro | email, chat | 8 business hours | business hours |
| Enterprise | email, chat, phone | 1 hour for P1 | 24/7 |

## Escalation
Unresolved P1 tickets are escalated to the Head of Customer Support after 4 hours.

## Service credits
If Brightwater Cloud availability falls below 99.9% in a month, Enterprise customers receive a
10% service credit.
""", [
    q("What is the first response time on the Pro support plan?", "8 business hours", "Support plans", "table", aliases=["8"]),
    q("Which support plan includes phone support?", "Enterprise", "Support plans", "table"),
    q("What service credit do Enterprise customers get if availability falls below 99.9%?", "10%", "Service credits", aliases=["10 %", "10 percent"]),
    q("After how many hours are unresolved P1 tickets escalated?", "4 hours", "Escalation", aliases=["4", "four"]),
])

md("support/faq.md", "Frequently Asked Questions", "faq", "public", "2025-05-20", """
# Frequently Asked Questions

## Does the hub keep working without internet?
Yes. Automations run locally on the Atrium Hub H2, and sensor data is buffered for up to 72 hours
and uploaded when the connection returns.

## Which phones does the Brightwater app support?
iOS 16 or later and Android 12 or later.

## Can I use third-party Zigbee devices?
Yes, certified Zigbee 3.0 devices can be paired with the hub, but only Brightwater sensors are
covered by our support.

## Does the hub support Matter?
The Atrium Hub H2 supports Matter since firmware 4.0.0.

## Is there a free trial?
Yes, Brightwater Cloud Pro can be tried for 30 days free of charge, without a credit card.

## Where is my data stored?
In our data centres in Frankfurt and Amsterdam, both in the European Union.

## How do I pay?
By credit card or, for annual plans, by bank transfer against invoice.
""", [
    q("For how long does the hub buffer sensor data without internet?", "72 hours", "Does the hub keep working without internet?", aliases=["72"]),
    q("Which Android version does the Brightwater app need?", "Android 12 or later", "Which phones does the Brightwater app support?", aliases=["android 12", "12"]),
    q("Since which firmware does the Hub H2 support Matter?", "4.0.0", "Does the hub support Matter?", aliases=["4.0"]),
    q("How long is the free trial of Brightwater Cloud Pro?", "30 days", "Is there a free trial?", aliases=["30"]),
    q("In which cities are Brightwater's data centres?", "Frankfurt and Amsterdam", "Where is my data stored?", aliases=["frankfurt"]),
])

md("marketing/brand_guidelines.md", "Brand Guidelines", "guide", "public", "2024-02-01", """
# Brand Guidelines

## Logo
![Brightwater logo: a teal wave inside a circle, with the word Brightwater to its right](assets/logo.png "Primary logo")

Keep a clear space around the logo equal to the height of the letter B.

## Colours
The primary colour is Brightwater Teal (#0F8B8D). The secondary colour is Slate (#2F3E46).

## Typography
Use Inter for all text, and JetBrains Mono for code.
""", [
    q("What is the hex code of Brightwater Teal?", "#0F8B8D", "Colours", aliases=["0f8b8d"]),
    q("Which typeface is used for all text?", "Inter", "Typography"),
    q("What does the Brightwater logo show?", "a teal wave inside a circle", "Logo", aliases=["wave"]),
])

md("handbook/glossary.md", "Glossary", "handbook", "public", "2024-02-01", """
# Glossary

## BMS
Building management system: the central controller of heating, ventilation and lighting in a building.

## Site
A building or campus in Brightwater Cloud. Each site has its own hubs, sensors and alert rules.

## RMA
Return merchandise authorisation: the number a customer needs before returning a faulty device.

## Setpoint
The target temperature a thermostat tries to reach.
""", [
    q("What does RMA stand for?", "return merchandise authorisation", "RMA", aliases=["return merchandise"]),
])

md("developers/api_reference.md", "Brightwater Cloud API Reference", "manual", "public", "2025-03-04", """
# Brightwater Cloud API Reference (v2)

## Base URL and authentication
All requests go to https://api.brightwater.example/v2 and carry an API key in the header X-BW-Key.

## Rate limits
Each API key may make 600 requests per minute. Requests above the limit get HTTP 429 with a
Retry-After header.

## Pagination
List endpoints return at most 500 items per page; use the cursor field to fetch the next page.

## Webhooks
Webhooks are retried 5 times with exponential backoff, starting at 30 seconds.

## Endpoints
| Method | Path | Purpose |
|---|---|---|
| GET | /sites | list sites |
| GET | /sites/{id}/devices | list the devices of a site |
| GET | /devices/{id}/telemetry | read telemetry |
| POST | /alerts/rules | create an alert rule |
""", [
    q("How many requests per minute may one API key make?", "600", "Rate limits"),
    q("What is the maximum page size of list endpoints?", "500 items", "Pagination", aliases=["500"]),
    q("How many times are webhooks retried?", "5 times", "Webhooks", aliases=["5", "five"]),
    q("Which API path lists the devices of a site?", "/sites/{id}/devices", "Endpoints", "table", aliases=["/devices"]),
    q("Which HTTP header carries the API key?", "X-BW-Key", "Base URL and authentication"),
])

md("marketing/case_studies.md", "Customer Case Studies", "marketing", "public", "2025-04-01", """
# Customer Case Studies

## Hotel Meridian, Utrecht
A 180-room hotel that installed 420 sensors and 60 Thermo T3 thermostats. Heating energy fell by
31% in the first winter.

## Lisbon School Network
42 public schools monitor CO2 with AirSense A4 sensors. Classrooms above 1,400 ppm are ventilated
automatically.

## Harbour Tower, Hamburg
A 24-floor office tower with 1,200 sensors on two Gateway G5 Industrial units.
""", [
    q("By how much did Hotel Meridian's heating energy fall?", "31%", "Hotel Meridian, Utrecht", aliases=["31"]),
    q("How many schools are in the Lisbon School Network project?", "42", "Lisbon School Network"),
    q("How many sensors does Harbour Tower in Hamburg have?", "1,200", "Harbour Tower, Hamburg", aliases=["1200"]),
])

md("projects/project_kestrel_design.md", "Project Kestrel: Hub H3 Design Overview", "design", "confidential",
   "2025-02-20", """
# Project Kestrel: Hub H3 Design Overview

Confidential. Distribution: Product and Hardware leadership only.

## Goals
Kestrel is the codename of the next-generation Atrium Hub H3. It doubles the number of sensors per
hub to 128 and adds a Thread 1.4 border router.

## Hardware
An on-device neural processing unit (NPU) runs anomaly detection locally. The target bill of
materials cost is 61 EUR per unit.

## Pricing
The target list price of the Hub H3 is 399 EUR.

## Team
Hardware lead: Priya Nair. Product manager: Aisha Mensah.
""", [
    q("How many sensors will the Hub H3 support?", "128", "Goals"),
    q("What is the target list price of the Hub H3?", "399 EUR", "Pricing", aliases=["399"]),
    q("What is Kestrel the codename of?", "the Atrium Hub H3", "Goals", aliases=["hub h3", "h3"]),
])

# Meeting notes ------------------------------------------------------------------------------
md("meetings/2025-01-14_product_leadership.md", "Product Leadership Meeting 2025-01-14", "meeting_notes",
   "internal", "2025-01-14", """
# Product Leadership Meeting, 14 January 2025

Attendees: Lars Eriksen, Priya Nair, Tomas Herrera, Aisha Mensah, Kenji Watanabe.

## Project Kestrel
Launch of the Hub H3 is planned for June 2025.

## Hub H1
The Hub H1 reaches end of sale on 31 March 2025. Support continues until the end of 2027.

## Decisions
- Raise the Hub H2 list price to 349 EUR from 1 January (already in the 2025 price list).
- Kenji to prepare a trade-in offer for H1 customers: 20% off an H2.
""", [
    q("When does the Hub H1 reach end of sale?", "31 March 2025", "Hub H1", aliases=["march 2025"]),
    q("What trade-in discount was proposed for Hub H1 customers?", "20% off an H2", "Decisions", aliases=["20%", "20 %"]),
])

md("meetings/2025-02-11_engineering_sync.md", "Engineering Sync 2025-02-11", "meeting_notes", "internal",
   "2025-02-11", """
# Engineering Sync, 11 February 2025

Attendees: Daniel Okafor, Priya Nair, Tomas Herrera, Rui Costa, Noah van Dijk.

## Firmware 4.2
Hub firmware 4.2.0 is scheduled for release on 4 March 2025, with Thread 1.3 and the energy
dashboard.

## Project Bluefin
Noah van Dijk presented the predictive maintenance pilot. Pilot customers: Hotel Meridian, the
Port of Rotterdam office and the Lisbon School Network.

## Actions
- Rui: add automated certificate renewal checks to the release checklist.
""", [
    q("Which customers are in the Project Bluefin pilot?", "Hotel Meridian, the Port of Rotterdam office and the Lisbon School Network", "Project Bluefin", aliases=["hotel meridian"]),
    q("When was hub firmware 4.2.0 scheduled for release?", "4 March 2025", "Firmware 4.2", aliases=["march 4", "2025-03-04"]),
])

md("meetings/2025-04-08_product_leadership.md", "Product Leadership Meeting 2025-04-08", "meeting_notes",
   "internal", "2025-04-08", """
# Product Leadership Meeting, 8 April 2025

Attendees: Lars Eriksen, Priya Nair, Aisha Mensah, Sofia Lindqvist.

## Project Kestrel
The NPU supplier cannot deliver before July. The launch of the Hub H3 moves from June to
September 2025.

## Pricing
The Cloud Pro price stays at 7 EUR per device per month for 2025.
""", [
    q("Why was the Kestrel launch moved in April 2025?", "the NPU supplier cannot deliver before July", "Project Kestrel", aliases=["npu"]),
])

md("meetings/2025-06-17_all_hands.md", "All-Hands Meeting 2025-06-17", "meeting_notes", "internal",
   "2025-06-17", """
# All-Hands Meeting, 17 June 2025

## Company update
Marta Kowalczyk reported 260 employees across four offices and a record first half year.

## People
The annual company offsite will take place in Porto on 2 and 3 October 2025.

## Questions
Asked about the H3, Lars answered that the date will be confirmed after the summer.
""", [
    q("Where will the 2025 company offsite take place?", "Porto", "People"),
    q("How many employees did the company have in June 2025?", "260", "Company update"),
])

md("meetings/2025-09-09_product_leadership.md", "Product Leadership Meeting 2025-09-09", "meeting_notes",
   "internal", "2025-09-09", """
# Product Leadership Meeting, 9 September 2025

Attendees: Lars Eriksen, Priya Nair, Aisha Mensah, Daniel Okafor.

## Project Kestrel
EMC certification failed on the first samples. The Hub H3 launch moves again, to Q1 2026.
The bill of materials cost rose to 67 EUR per unit.

## Decisions
- Keep the H3 target price of 399 EUR.
- Priya to report weekly on the re-spin.
""", [
    q("When is the Hub H3 (Project Kestrel) launch planned now?", "Q1 2026", "Project Kestrel", aliases=["first quarter of 2026", "2026"]),
    q("What is the latest bill of materials cost of the Hub H3?", "67 EUR", "Project Kestrel", aliases=["67"]),
])

md("meetings/2025-10-21_security_review.md", "Security Review 2025-10-21", "meeting_notes", "internal",
   "2025-10-21", """
# Security Review, 21 October 2025

Attendees: Yusuf Demir, Daniel Okafor, Rui Costa.

## Penetration test
The annual penetration test by Redline Security found 2 medium findings and no high findings.

## Remediation
Both findings are to be fixed by 15 November 2025.
""", [
    q("How many medium findings did the 2025 penetration test find?", "2", "Penetration test", aliases=["two"]),
    q("Which firm did the 2025 penetration test?", "Redline Security", "Penetration test", aliases=["redline"]),
])

# Incident reports ---------------------------------------------------------------------------
INCIDENTS = [
    dict(id="INC-2024-031", date="2024-11-12", severity="SEV1", duration_minutes=47, service="Cloud API",
         summary="The Brightwater Cloud API was unavailable for all customers for 47 minutes.",
         cause="An expired TLS certificate on the public load balancer.",
         actions="Automated certificate renewal with expiry alerts 30 days ahead.",
         questions=[q("What caused incident INC-2024-031?", "an expired TLS certificate", "Root cause", aliases=["expired tls certificate", "certificate"]),
                    q("How long did the Cloud API outage of 12 November 2024 last?", "47 minutes", "Summary", aliases=["47"])]),
    dict(id="INC-2025-004", date="2025-01-22", severity="SEV2", duration_minutes=540, service="Hub firmware",
         summary="Hub firmware 4.1.0 put about 410 Hub H2 units (3% of the fleet) into a boot loop.",
         cause="A flash partition size check that failed on hubs made before 2023.",
         actions="Firmware 4.1.0 was withdrawn; affected hubs were rolled back to 4.0.7.",
         questions=[q("How many hubs were affected by the firmware 4.1.0 boot loop?", "about 410", "Summary", aliases=["410"]),
                    q("Which firmware were hubs rolled back to after INC-2025-004?", "4.0.7", "Actions")]),
    dict(id="INC-2025-012", date="2025-03-18", severity="SEV2", duration_minutes=130, service="Telemetry ingestion",
         summary="Telemetry appeared in dashboards with a delay of up to 2 hours 10 minutes.",
         cause="Kafka consumer lag after a partition rebalance.",
         actions="Static partition assignment and a lag alert at 5 minutes.",
         questions=[q("What caused the telemetry delay in March 2025?", "Kafka consumer lag after a partition rebalance", "Root cause", aliases=["kafka"])]),
    dict(id="INC-2025-019", date="2025-05-06", severity="SEV3", duration_minutes=0, service="Billing",
         summary="212 customers were charged twice for their Cloud Pro subscription.",
         cause="A retried payment job that was not idempotent.",
         actions="All customers were refunded within 5 days; the job now uses idempotency keys.",
         questions=[q("How many customers were double charged in May 2025?", "212", "Summary")]),
    dict(id="INC-2025-027", date="2025-07-29", severity="SEV2", duration_minutes=25, service="Frankfurt data centre",
         summary="Network degradation in the Frankfurt data centre for 25 minutes.",
         cause="A fibre cut at the upstream provider CloudNine Hosting.",
         actions="Traffic failover to Amsterdam is now automatic.",
         questions=[q("Which provider's fibre cut caused the Frankfurt network degradation?", "CloudNine Hosting", "Root cause", aliases=["cloudnine"])]),
    dict(id="INC-2025-033", date="2025-09-02", severity="SEV3", duration_minutes=0, service="Lumen S1 firmware",
         summary="Lumen S1 sensors on firmware 1.8.2 drained their batteries in weeks instead of years.",
         cause="The reporting interval was set to 5 seconds instead of 60 seconds.",
         actions="Firmware 1.8.3 restores the 60 second interval; affected batteries replaced free of charge.",
         questions=[q("Which Lumen S1 firmware caused fast battery drain?", "1.8.2", "Summary"),
                    q("What reporting interval did the faulty Lumen S1 firmware use?", "5 seconds", "Root cause", aliases=["5 s", "5s"])]),
]
for inc in INCIDENTS:
    md(f"incidents/{inc['id']}.md", f"Incident Report {inc['id']}", "incident_report", "internal", inc["date"], f"""
# Incident Report {inc['id']}

Date: {inc['date']}. Severity: {inc['severity']}. Service: {inc['service']}.

## Summary
{inc['summary']}

## Root cause
{inc['cause']}

## Actions
{inc['actions']}
""", inc["questions"])


# --------------------------------------------------------------------------------------------
# PDF documents: pages of (heading, paragraphs, optional table, optional figure caption)
# --------------------------------------------------------------------------------------------
PDFS: list[dict] = []


def pdf(path, title, type_, classification, date, pages, questions=()):
    PDFS.append(dict(path=path, title=title, type=type_, classification=classification, date=date,
                     pages=pages, questions=list(questions)))


def page(heading, *paragraphs, table=None, figure=None):
    return dict(heading=heading, paragraphs=list(paragraphs), table=table, figure=figure)


pdf("manuals/atrium_hub_h2_manual.pdf", "Atrium Hub H2 User Manual", "manual", "public", "2025-03-04", [
    page("1. Overview",
         "The Atrium Hub H2 is the heart of a Brightwater installation. It connects up to 64 "
         "Brightwater sensors over Zigbee 3.0 and Thread, and reaches the cloud over Wi-Fi 6 or Ethernet.",
         "Automations run on the hub itself, so rooms keep working when the internet is down.",
         figure="Figure 1: Front view of the Atrium Hub H2 with its status LED ring."),
    page("2. Installation",
         "Place the hub centrally, within 20 metres of the sensors, away from metal cabinets.",
         "Power the hub with the supplied 12 V DC, 1.5 A power supply.",
         "To pair a sensor, hold the pairing button for 5 seconds. The LED ring blinks blue while pairing."),
    page("3. Technical specifications",
         "The table lists the specifications of the Atrium Hub H2.",
         table=[["Property", "Value"], ["Dimensions", "120 x 120 x 32 mm"], ["Weight", "310 g"],
                ["Operating temperature", "0 to 40 C"], ["Radios", "Zigbee 3.0, Thread 1.3, Wi-Fi 6"],
                ["Maximum sensors", "64"], ["Power consumption", "4.5 W typical"],
                ["Ethernet", "1 Gbit/s"]]),
    page("4. Troubleshooting",
         "A solid red LED ring means the hub has no internet connection.",
         "A blinking amber LED ring means a firmware update is running: do not unplug the hub.",
         "To restore factory settings, hold the reset button for 15 seconds until the ring turns white."),
], [
    q("How many sensors can one Atrium Hub H2 connect?", "64", 1),
    q("How long must the pairing button of the Hub H2 be held?", "5 seconds", 2, aliases=["5"]),
    q("How much does the Atrium Hub H2 weigh?", "310 g", 3, "table", aliases=["310"]),
    q("What is the typical power consumption of the Hub H2?", "4.5 W", 3, "table", aliases=["4.5"]),
    q("What does a solid red LED ring on the hub mean?", "no internet connection", 4, aliases=["internet"]),
    q("How long must the reset button be held for a factory reset of the hub?", "15 seconds", 4, aliases=["15"]),
    q("What is shown in Figure 1 of the Hub H2 manual?", "the front view of the hub with its status LED ring", 1, aliases=["front view", "led ring"]),
])

pdf("manuals/lumen_s1_manual.pdf", "Lumen S1 Sensor Manual", "manual", "public", "2024-10-01", [
    page("1. Overview",
         "The Lumen S1 combines a passive infrared occupancy sensor with an ambient light sensor.",
         "Its CR2477 coin cell lasts up to 3 years at the default reporting interval of 60 seconds."),
    page("2. Installation",
         "Mount the sensor on the ceiling at a height of 2.2 to 2.8 metres.",
         "The detection range is a circle with a radius of 8 metres below the sensor."),
    page("3. Technical specifications",
         table=[["Property", "Value"], ["Battery", "CR2477 coin cell"], ["Battery life", "up to 3 years"],
                ["Detection radius", "8 m"], ["Light range", "0 to 10,000 lux"], ["Radio", "Zigbee 3.0"],
                ["Dimensions", "Diameter 58 mm, height 19 mm"]]),
    page("4. Maintenance",
         "Replace the battery when the app shows a battery level below 15%.",
         "Clean the lens with a dry cloth; never use solvents."),
], [
    q("What battery does the Lumen S1 use?", "CR2477", 1),
    q("How long does the Lumen S1 battery last?", "up to 3 years", 1, aliases=["3 years", "three years"]),
    q("At what height should the Lumen S1 be mounted?", "2.2 to 2.8 metres", 2, aliases=["2.2"]),
    q("What is the light measurement range of the Lumen S1?", "0 to 10,000 lux", 3, "table", aliases=["10,000", "10000"]),
    q("At what battery level should the Lumen S1 battery be replaced?", "below 15%", 4, aliases=["15"]),
])

pdf("manuals/thermo_t3_manual.pdf", "Thermo T3 Thermostat Manual", "manual", "public", "2024-08-15", [
    page("1. Overview",
         "The Thermo T3 is a smart thermostat for radiators and underfloor heating. It measures "
         "temperature with an accuracy of 0.2 C and supports OpenTherm boilers."),
    page("2. Wiring",
         "The Thermo T3 needs a 24 V AC supply with a common wire (C-wire).",
         "Switch off the heating system at the breaker before wiring."),
    page("3. Schedules and eco mode",
         "Each day can hold up to 7 schedule periods.",
         "Eco mode lowers the setpoint by 3 C while the building is unoccupied, using Lumen S1 occupancy data."),
    page("4. Technical specifications",
         table=[["Property", "Value"], ["Accuracy", "0.2 C"], ["Supply", "24 V AC"],
                ["Setpoint range", "5 to 30 C"], ["Display", "2.8 inch e-ink"], ["Radio", "Zigbee 3.0"]]),
], [
    q("What temperature accuracy does the Thermo T3 have?", "0.2 C", 1, aliases=["0.2"]),
    q("What supply voltage does the Thermo T3 need?", "24 V AC", 2, aliases=["24 v", "24v"]),
    q("By how much does eco mode lower the setpoint?", "3 C", 3, aliases=["3 degrees", "3"]),
    q("How many schedule periods can one day hold on the Thermo T3?", "7", 3, aliases=["seven"]),
    q("What is the setpoint range of the Thermo T3?", "5 to 30 C", 4, "table", aliases=["5 to 30"]),
])

pdf("manuals/airsense_a4_manual.pdf", "AirSense A4 Air Quality Sensor Manual", "manual", "public", "2024-11-20", [
    page("1. Overview",
         "The AirSense A4 measures CO2 with an NDIR sensor from 400 to 5000 ppm, as well as PM2.5, "
         "temperature and humidity."),
    page("2. Calibration",
         "Automatic baseline calibration runs every 8 days and assumes the room reaches outdoor air levels.",
         "A manual calibration with reference gas is recommended every 12 months."),
    page("3. Status light",
         "The status light is green below 800 ppm, yellow from 800 to 1400 ppm and red above 1400 ppm."),
], [
    q("What is the CO2 measurement range of the AirSense A4?", "400 to 5000 ppm", 1, aliases=["5000"]),
    q("How often is a manual calibration of the AirSense A4 recommended?", "every 12 months", 2, aliases=["12 months", "yearly", "once a year"]),
    q("Above what CO2 level does the AirSense A4 light turn red?", "1400 ppm", 3, aliases=["1400", "1,400"]),
])

pdf("manuals/gateway_g5_manual.pdf", "Gateway G5 Industrial Manual", "manual", "public", "2025-02-01", [
    page("1. Overview",
         "The Gateway G5 Industrial is built for warehouses, factories and large offices. It supports "
         "up to 500 sensors and has an LTE fallback when the wired network fails."),
    page("2. Environment and power",
         "The enclosure is rated IP67 and works from -30 to 70 C.",
         "Power the gateway through Power over Ethernet (802.3at) or a 24 V DC supply."),
], [
    q("How many sensors does the Gateway G5 Industrial support?", "500", 1),
    q("What ingress protection rating does the Gateway G5 have?", "IP67", 2),
    q("What is the operating temperature range of the Gateway G5?", "-30 to 70 C", 2, aliases=["-30"]),
])

pdf("manuals/cloud_admin_guide.pdf", "Brightwater Cloud Administrator Guide", "manual", "public", "2025-01-15", [
    page("1. Users and roles",
         "Brightwater Cloud has four roles: Owner, Admin, Technician and Viewer. Only Owners can "
         "change billing details."),
    page("2. Authentication",
         "API keys expire after 365 days and can be rotated at any time.",
         "Single sign-on with SAML 2.0 is available on the Enterprise plan only."),
    page("3. Data export",
         "Telemetry can be exported as CSV or Parquet, for at most 31 days per export."),
    page("4. Alert rules",
         "Each site can hold up to 200 alert rules. Alerts are delivered by e-mail, SMS or webhook."),
], [
    q("After how many days do Brightwater Cloud API keys expire?", "365 days", 2, aliases=["365", "one year"]),
    q("Which plan offers SAML single sign-on?", "Enterprise", 2),
    q("How many alert rules can one site hold?", "200", 4),
    q("Which Brightwater Cloud role can change billing details?", "Owner", 1),
    q("In which formats can telemetry be exported?", "CSV or Parquet", 3, aliases=["parquet"]),
])

pdf("legal/warranty_terms_2023.pdf", "Warranty Terms (2023)", "policy", "public", "2023-02-01", [
    page("Warranty Terms, edition February 2023",
         "All Brightwater hardware carries a limited warranty of 12 months from the date of purchase.",
         "Faults must be reported within 30 days of their discovery."),
], [
    q("How long was the hardware warranty in the 2023 warranty terms?", "12 months", 1, aliases=["12"]),
])

pdf("legal/warranty_terms_2025.pdf", "Warranty Terms (2025)", "policy", "public", "2025-01-01", [
    page("Warranty Terms, edition January 2025",
         "These terms replace the edition of February 2023 for all purchases from 1 January 2025.",
         "Brightwater hardware carries a limited warranty of 24 months from the date of purchase. "
         "The Gateway G5 Industrial carries 36 months."),
    page("Returns",
         "Request an RMA number in the support portal before returning a device. Replacement devices "
         "are shipped within 5 business days of receiving the faulty unit.",
         "Batteries and accessories such as the mounting kit M1 are covered for 12 months."),
], [
    q("How long is the standard hardware warranty?", "24 months", 1, aliases=["24", "two years", "2 years"]),
    q("How long is the warranty of the Gateway G5 Industrial?", "36 months", 1, aliases=["36", "three years"]),
    q("Within how many business days are replacement devices shipped?", "5 business days", 2, aliases=["5", "five"]),
])

pdf("reports/security_whitepaper.pdf", "Security Whitepaper", "whitepaper", "public", "2024-12-01", [
    page("Encryption",
         "Customer data is encrypted with AES-256 at rest and with TLS 1.3 in transit.",
         "Devices authenticate to the cloud with per-device X.509 certificates."),
    page("Certification and testing",
         "Brightwater has been certified to ISO/IEC 27001 since 2021.",
         "An independent penetration test runs every year, and our bug bounty pays up to 5,000 EUR."),
], [
    q("Which encryption is used for customer data at rest?", "AES-256", 1, aliases=["aes 256", "aes256"]),
    q("Since when has Brightwater been ISO 27001 certified?", "2021", 2),
    q("What is the maximum bug bounty reward?", "5,000 EUR", 2, aliases=["5000", "5,000"]),
])

pdf("reports/energy_report_2024.pdf", "Energy Impact Report 2024", "report", "public", "2025-03-15", [
    page("Highlights",
         "In 2024, 1,850 buildings used Brightwater. On average they saved 23% of their heating energy.",
         "Together they avoided an estimated 41,000 tonnes of CO2."),
    page("Savings by building type",
         table=[["Building type", "Buildings", "Average heating saving"], ["Offices", "920", "25%"],
                ["Schools", "410", "19%"], ["Hotels", "180", "28%"], ["Retail", "340", "18%"]]),
], [
    q("How many buildings used Brightwater in 2024?", "1,850", 1, aliases=["1850"]),
    q("What was the average heating saving of hotels in 2024?", "28%", 2, "table", aliases=["28"]),
    q("How many tonnes of CO2 were avoided in 2024?", "41,000 tonnes", 1, aliases=["41,000", "41000"]),
])

pdf("reports/board_report_2025_q3.pdf", "Board Report Q3 2025", "report", "confidential", "2025-10-15", [
    page("Financial summary",
         "Revenue in Q3 2025 was 8.4 million EUR, up 17% on Q3 2024. Gross margin was 46%.",
         "Cash at the end of the quarter was 21.3 million EUR.",
         table=[["Segment", "Q3 2025 revenue (million EUR)"], ["Hardware", "5.1"],
                ["Cloud subscriptions", "2.6"], ["Services", "0.7"]]),
    page("Strategic projects",
         "Project Sable: the proposed acquisition of Nordlys Sensing AS in Bergen, for up to 12 million EUR.",
         "Project Kestrel: the Hub H3 launch is delayed to Q1 2026 after failed EMC certification.",
         "Headcount at the end of Q3 was 275."),
], [
    q("What was the revenue in Q3 2025?", "8.4 million EUR", 1, aliases=["8.4"]),
    q("How much revenue did cloud subscriptions bring in Q3 2025?", "2.6 million EUR", 1, "table", aliases=["2.6"]),
    q("Which company does Project Sable propose to acquire?", "Nordlys Sensing AS", 2, aliases=["nordlys"]),
    q("What was the gross margin in Q3 2025?", "46%", 1, aliases=["46"]),
])

pdf("projects/project_bluefin_brief.pdf", "Project Bluefin Brief", "design", "confidential", "2025-02-05", [
    page("Project Bluefin: predictive maintenance",
         "Bluefin predicts failures of heating, ventilation and air-conditioning equipment from sensor "
         "telemetry, two weeks before they happen.",
         "Lead: Noah van Dijk, Data Science Lead."),
    page("Method and targets",
         "The first model is a gradient-boosted tree ensemble over hourly features.",
         "The pilot succeeds if precision reaches 0.80 at a recall of 0.50."),
], [
    q("What does Project Bluefin predict?", "failures of HVAC equipment", 1, aliases=["failure", "maintenance"]),
    q("What precision target does the Bluefin pilot have?", "0.80", 2, aliases=["0.8", "80%"]),
    q("What kind of model does Bluefin use first?", "a gradient-boosted tree ensemble", 2, aliases=["gradient-boosted", "gradient boosted", "gradient boosting"]),
])


# --------------------------------------------------------------------------------------------
# Tables (CSV): header row + rows; ``key`` names the column that labels each row (the "section")
# --------------------------------------------------------------------------------------------
CSVS: list[dict] = []


def csv_doc(path, title, type_, classification, date, key, rows, questions=()):
    CSVS.append(dict(path=path, title=title, type=type_, classification=classification, date=date,
                     key=key, rows=rows, questions=list(questions)))


csv_doc("sales/price_list_2025.csv", "Price List 2025", "price_list", "public", "2025-01-01", "sku", [
    ["sku", "product", "category", "list_price_eur", "warranty_months", "status"],
    ["BW-H2", "Atrium Hub H2", "hub", "349", "24", "active"],
    ["BW-H1", "Atrium Hub H1", "hub", "279", "24", "end of sale 2025-03-31"],
    ["BW-S1", "Lumen S1 occupancy and light sensor", "sensor", "59", "24", "active"],
    ["BW-T3", "Thermo T3 thermostat", "climate", "189", "24", "active"],
    ["BW-A4", "AirSense A4 air quality sensor", "sensor", "129", "24", "active"],
    ["BW-L2", "Leak Detector L2", "sensor", "45", "24", "active"],
    ["BW-D1", "Door Contact D1", "sensor", "29", "24", "active"],
    ["BW-G5", "Gateway G5 Industrial", "gateway", "1290", "36", "active"],
    ["BW-M1", "Mounting kit M1", "accessory", "19", "12", "active"],
    ["BW-PSU12", "Power supply 12 V", "accessory", "24", "12", "active"],
    ["CLD-BASIC", "Brightwater Cloud Basic, per device per month", "subscription", "4", "0", "active"],
    ["CLD-PRO", "Brightwater Cloud Pro, per device per month", "subscription", "7", "0", "active"],
    ["CLD-ENT", "Brightwater Cloud Enterprise, per device per month", "subscription", "11", "0", "active"],
], [
    q("What is the list price of the Atrium Hub H2 in 2025?", "349 EUR", "BW-H2", "table", aliases=["349"]),
    q("How much does the Thermo T3 thermostat cost?", "189 EUR", "BW-T3", "table", aliases=["189"]),
    q("What is the SKU of the Leak Detector L2?", "BW-L2", "BW-L2", "table"),
    q("What does Brightwater Cloud Pro cost per device per month?", "7 EUR", "CLD-PRO", "table", aliases=["7"]),
    q("What is the list price of the Door Contact D1?", "29 EUR", "BW-D1", "table", aliases=["29"]),
    q("How much does the Gateway G5 Industrial cost?", "1290 EUR", "BW-G5", "table", aliases=["1290", "1,290"]),
    q("What is the price of the AirSense A4 in the 2025 price list?", "129 EUR", "BW-A4", "table", aliases=["129"]),
    q("How much does the Mounting kit M1 cost?", "19 EUR", "BW-M1", "table", aliases=["19"]),
    q("What does the Enterprise cloud plan cost per device per month?", "11 EUR", "CLD-ENT", "table", aliases=["11"]),
])

csv_doc("sales/price_list_2024.csv", "Price List 2024", "price_list", "public", "2024-01-01", "sku", [
    ["sku", "product", "category", "list_price_eur", "warranty_months", "status"],
    ["BW-H2", "Atrium Hub H2", "hub", "329", "12", "active"],
    ["BW-H1", "Atrium Hub H1", "hub", "279", "12", "active"],
    ["BW-S1", "Lumen S1 occupancy and light sensor", "sensor", "55", "12", "active"],
    ["BW-T3", "Thermo T3 thermostat", "climate", "179", "12", "active"],
    ["BW-A4", "AirSense A4 air quality sensor", "sensor", "119", "12", "active"],
    ["BW-D1", "Door Contact D1", "sensor", "27", "12", "active"],
    ["BW-G5", "Gateway G5 Industrial", "gateway", "1190", "24", "active"],
    ["CLD-BASIC", "Brightwater Cloud Basic, per device per month", "subscription", "3.5", "0", "active"],
    ["CLD-PRO", "Brightwater Cloud Pro, per device per month", "subscription", "6", "0", "active"],
], [
    q("What was the list price of the Atrium Hub H2 in 2024?", "329 EUR", "BW-H2", "table", aliases=["329"]),
    q("What did the Lumen S1 cost in the 2024 price list?", "55 EUR", "BW-S1", "table", aliases=["55"]),
    q("What did Brightwater Cloud Basic cost per device per month in 2024?", "3.5 EUR", "CLD-BASIC", "table", aliases=["3.5", "3.50"]),
])

csv_doc("company/offices.csv", "Office Locations", "table", "public", "2025-01-01", "office", [
    ["office", "city", "address", "employees", "opened"],
    ["Headquarters", "Rotterdam", "Wilhelminakade 91", "140", "2014"],
    ["Hardware Lab", "Eindhoven", "High Tech Campus 12", "65", "2017"],
    ["Cloud Hub", "Lisbon", "Avenida da Liberdade 110", "48", "2020"],
    ["Sales Office", "Amsterdam", "Keizersgracht 455", "22", "2022"],
], [
    q("What is the address of the Brightwater headquarters?", "Wilhelminakade 91", "Headquarters", "table", aliases=["wilhelminakade"]),
    q("When did the Lisbon office open?", "2020", "Cloud Hub", "table"),
    q("How many employees work at the Eindhoven Hardware Lab?", "65", "Hardware Lab", "table"),
])

csv_doc("company/holidays_2025.csv", "Company Holidays 2025", "table", "internal", "2024-12-01", "date", [
    ["date", "holiday", "offices"],
    ["2025-01-01", "New Year's Day", "all"],
    ["2025-04-18", "Good Friday", "Lisbon"],
    ["2025-04-21", "Easter Monday", "Rotterdam, Eindhoven, Amsterdam"],
    ["2025-04-25", "Freedom Day", "Lisbon"],
    ["2025-04-26", "King's Day (observed)", "Rotterdam, Eindhoven, Amsterdam"],
    ["2025-05-05", "Liberation Day", "Rotterdam, Eindhoven, Amsterdam"],
    ["2025-06-13", "Saint Anthony's Day", "Lisbon"],
    ["2025-12-24", "Company day off", "all"],
    ["2025-12-25", "Christmas Day", "all"],
], [
    q("Which day is the extra company day off in December 2025?", "24 December", "2025-12-24", "table", aliases=["2025-12-24", "december 24"]),
    q("On which date is Saint Anthony's Day a holiday for the Lisbon office?", "2025-06-13", "2025-06-13", "table", aliases=["13 june", "june 13"]),
])

csv_doc("company/it_equipment.csv", "IT Equipment Catalogue", "table", "internal", "2025-01-01", "role", [
    ["role", "laptop", "monitors", "budget_eur", "refresh_years"],
    ["Engineer", "ThinkPad P14s, 64 GB RAM", "2", "2600", "3"],
    ["Designer", "MacBook Pro 14", "1", "2800", "3"],
    ["Sales", "ThinkPad X1 Carbon", "1", "1900", "4"],
    ["Support", "ThinkPad T14", "2", "1600", "4"],
], [
    q("Which laptop do engineers receive?", "ThinkPad P14s", "Engineer", "table", aliases=["p14s"]),
    q("What is the equipment budget for a designer?", "2800 EUR", "Designer", "table", aliases=["2800", "2,800"]),
])

csv_doc("people/salary_bands_2025.csv", "Salary Bands 2025", "table", "confidential", "2025-01-01", "level", [
    ["level", "title", "min_eur", "max_eur"],
    ["L1", "Junior Engineer", "42000", "52000"],
    ["L2", "Engineer", "50000", "63000"],
    ["L3", "Senior Engineer", "61000", "79000"],
    ["L4", "Staff Engineer", "76000", "96000"],
    ["L5", "Principal Engineer", "93000", "118000"],
], [
    q("What is the maximum salary of a Senior Engineer (L3)?", "79000 EUR", "L3", "table", aliases=["79000", "79,000"]),
    q("What is the minimum salary of a Staff Engineer?", "76000 EUR", "L4", "table", aliases=["76000", "76,000"]),
])


# --------------------------------------------------------------------------------------------
# JSON documents: a list of records; ``key`` names the field that labels each record
# --------------------------------------------------------------------------------------------
JSONS: list[dict] = []


def json_doc(path, title, type_, classification, date, key, records, questions=()):
    JSONS.append(dict(path=path, title=title, type=type_, classification=classification, date=date,
                      key=key, records=records, questions=list(questions)))


def person(id_, name, title, department, reports_to, office):
    return {"id": id_, "name": name, "title": title, "department": department,
            "reports_to": reports_to, "office": office}


json_doc("company/org_chart.json", "Organisation Chart", "org_chart", "internal", "2025-07-01", "name", [
    person("E001", "Marta Kowalczyk", "Chief Executive Officer", "Executive", None, "Rotterdam"),
    person("E002", "Daniel Okafor", "Chief Technology Officer", "Engineering", "Marta Kowalczyk", "Rotterdam"),
    person("E003", "Sofia Lindqvist", "Chief Financial Officer", "Finance", "Marta Kowalczyk", "Rotterdam"),
    person("E004", "Priya Nair", "VP Hardware Engineering", "Engineering", "Daniel Okafor", "Eindhoven"),
    person("E005", "Tomas Herrera", "VP Cloud Platform", "Engineering", "Daniel Okafor", "Lisbon"),
    person("E006", "Hannah Becker", "Head of Customer Support", "Support", "Marta Kowalczyk", "Rotterdam"),
    person("E007", "Yusuf Demir", "Head of Security", "Engineering", "Daniel Okafor", "Rotterdam"),
    person("E008", "Claire Dubois", "Head of People", "People", "Marta Kowalczyk", "Rotterdam"),
    person("E009", "Kenji Watanabe", "Head of Sales EMEA", "Sales", "Marta Kowalczyk", "Amsterdam"),
    person("E010", "Aisha Mensah", "Product Manager, Hubs", "Product", "Lars Eriksen", "Rotterdam"),
    person("E011", "Lars Eriksen", "VP Product", "Product", "Marta Kowalczyk", "Rotterdam"),
    person("E012", "Rui Costa", "SRE Lead", "Engineering", "Tomas Herrera", "Lisbon"),
    person("E013", "Elena Petrova", "Procurement Manager", "Finance", "Sofia Lindqvist", "Rotterdam"),
    person("E014", "Noah van Dijk", "Data Science Lead", "Engineering", "Daniel Okafor", "Eindhoven"),
    person("E015", "Mei Chen", "Legal Counsel", "Legal", "Marta Kowalczyk", "Rotterdam"),
], [
    q("Who is the CTO of Brightwater?", "Daniel Okafor", "Daniel Okafor"),
    q("Who does the SRE Lead report to?", "Tomas Herrera", "Rui Costa"),
    q("Which office does the VP Hardware Engineering work in?", "Eindhoven", "Priya Nair"),
    q("Who is the Head of Customer Support?", "Hannah Becker", "Hannah Becker"),
    q("What is Kenji Watanabe's title?", "Head of Sales EMEA", "Kenji Watanabe", aliases=["sales"]),
])


def release(version, product, date, notes, status="released"):
    return {"version": version, "product": product, "date": date, "status": status, "notes": notes}


json_doc("developers/firmware_releases.json", "Firmware Release Notes", "release_notes", "public", "2025-09-05",
         "version", [
             release("4.0.0", "Atrium Hub H2", "2024-09-10", "Matter support; new pairing flow."),
             release("4.0.7", "Atrium Hub H2", "2024-12-02", "Stability fixes for Zigbee routing."),
             release("4.1.0", "Atrium Hub H2", "2025-01-20", "Faster boot; withdrawn after INC-2025-004.", "withdrawn"),
             release("4.1.1", "Atrium Hub H2", "2025-01-29", "Fixes the boot loop of 4.1.0."),
             release("4.2.0", "Atrium Hub H2", "2025-03-04", "Thread 1.3 and the energy dashboard."),
             release("4.2.1", "Atrium Hub H2", "2025-05-13", "Security fixes for the local web interface."),
             release("1.8.2", "Lumen S1", "2025-08-25", "Improved light sensor accuracy."),
             release("1.8.3", "Lumen S1", "2025-09-05", "Restores the 60 second reporting interval."),
         ], [
             q("Which hub firmware version fixed the boot loop of 4.1.0?", "4.1.1", "4.1.1"),
             q("What did hub firmware 4.2.1 fix?", "security issues in the local web interface", "4.2.1", aliases=["security"]),
             q("When was Lumen S1 firmware 1.8.3 released?", "2025-09-05", "1.8.3", aliases=["5 september 2025", "september 5"]),
         ])

json_doc("company/vendors.json", "Preferred Vendors", "vendor_list", "internal", "2025-01-10", "vendor", [
    {"vendor": "Kaskade Electronics", "category": "PCB assembly", "country": "Taiwan", "contract_end": "2026-06-30", "payment_terms_days": 45},
    {"vendor": "Volterra Plastics", "category": "enclosures", "country": "Portugal", "contract_end": "2025-12-31", "payment_terms_days": 30},
    {"vendor": "CloudNine Hosting", "category": "data centre colocation", "country": "Germany", "contract_end": "2027-03-31", "payment_terms_days": 30},
    {"vendor": "Sentra Batteries", "category": "coin cells", "country": "Poland", "contract_end": "2026-01-31", "payment_terms_days": 30},
    {"vendor": "Finch Logistics", "category": "warehousing and shipping", "country": "Netherlands", "contract_end": "2026-09-30", "payment_terms_days": 30},
], [
    q("Which vendor assembles Brightwater's circuit boards?", "Kaskade Electronics", "Kaskade Electronics", aliases=["kaskade"]),
    q("When does the contract with Volterra Plastics end?", "2025-12-31", "Volterra Plastics", aliases=["31 december 2025", "december 2025"]),
    q("Which company supplies the coin cells?", "Sentra Batteries", "Sentra Batteries", aliases=["sentra"]),
])

json_doc("incidents/incident_log.json", "Incident Log", "incident_log", "internal", "2025-09-10", "id", [
    {"id": i["id"], "date": i["date"], "severity": i["severity"], "service": i["service"],
     "duration_minutes": i["duration_minutes"], "status": "closed"} for i in INCIDENTS
], [
    q("What severity was incident INC-2025-019?", "SEV3", "INC-2025-019"),
    q("Which service did incident INC-2025-027 affect?", "Frankfurt data centre", "INC-2025-027", aliases=["frankfurt"]),
])


# --------------------------------------------------------------------------------------------
# Questions that need several documents, and questions the documents cannot answer
# --------------------------------------------------------------------------------------------
def src(path, where):
    return {"path": path, "where": where}


MULTI_DOC = [
    ("Who is the manager of the person who wrote the 2025 travel policy?", "Marta Kowalczyk",
     [src("policies/travel_expense_policy_2025.md", "Travel and Expense Policy (2025)"), src("company/org_chart.json", "Sofia Lindqvist")], []),
    ("Which office does the hardware lead of Project Kestrel work in?", "Eindhoven",
     [src("projects/project_kestrel_design.md", "Team"), src("company/org_chart.json", "Priya Nair")], []),
    ("By how much did the Hub H2 list price rise from 2024 to 2025?", "20 EUR",
     [src("sales/price_list_2024.csv", "BW-H2"), src("sales/price_list_2025.csv", "BW-H2")], ["20"]),
    ("What is the latest hub firmware release, and when did it come out?", "4.2.1",
     [src("developers/firmware_releases.json", "4.2.1"), src("manuals/atrium_hub_h2_manual.pdf", 1)], []),
    ("What severity was the incident caused by the Lumen S1 firmware released on 2025-08-25?", "SEV3",
     [src("developers/firmware_releases.json", "1.8.2"), src("incidents/INC-2025-033.md", "Incident Report INC-2025-033")], []),
    ("How many SEV2 incidents are in the incident log?", "3",
     [src("incidents/incident_log.json", "INC-2025-004"), src("incidents/incident_log.json", "INC-2025-012"), src("incidents/incident_log.json", "INC-2025-027")], ["three"]),
    ("Within how many minutes must an incident of the severity of INC-2024-031 be acknowledged?", "15 minutes",
     [src("incidents/INC-2024-031.md", "Incident Report INC-2024-031"), src("policies/incident_response_policy.md", "Severity levels")], ["15"]),
    ("What is the total list price of one Atrium Hub H2 and two Lumen S1 sensors in 2025?", "467 EUR",
     [src("sales/price_list_2025.csv", "BW-H2"), src("sales/price_list_2025.csv", "BW-S1")], ["467"]),
    ("Who should report a lost laptop, to whom, and who leads that team?", "Yusuf Demir",
     [src("policies/information_security_policy_2025.md", "Reporting"), src("company/org_chart.json", "Yusuf Demir")], ["demir"]),
    ("How much longer is the current standard warranty than the 2023 one?", "12 months",
     [src("legal/warranty_terms_2023.pdf", 1), src("legal/warranty_terms_2025.pdf", 1)], ["12", "twice"]),
    ("Which provider hosts Brightwater's data centre colocation, and which incident did it cause?", "INC-2025-027",
     [src("company/vendors.json", "CloudNine Hosting"), src("incidents/INC-2025-027.md", "Root cause")], ["cloudnine"]),
    ("What is the latest planned launch date of Project Kestrel, given all meetings and the board report?", "Q1 2026",
     [src("meetings/2025-09-09_product_leadership.md", "Project Kestrel"), src("reports/board_report_2025_q3.pdf", 2)], ["2026"]),
    ("How many sensors can two Gateway G5 Industrial units support together?", "1,000",
     [src("manuals/gateway_g5_manual.pdf", 1), src("marketing/case_studies.md", "Harbour Tower, Hamburg")], ["1000"]),
    ("Who leads Project Bluefin and what is their title?", "Noah van Dijk, Data Science Lead",
     [src("projects/project_bluefin_brief.pdf", 1), src("company/org_chart.json", "Noah van Dijk")], ["noah van dijk"]),
    ("What is the meal allowance for a full travel day, and how does it compare with 2024?", "55 EUR",
     [src("policies/travel_expense_policy_2025.md", "Meal allowance"), src("policies/travel_expense_policy_2024.md", "Meal allowance")], ["55"]),
    ("Which customer appears both in a case study and in the Bluefin pilot, and what saving did it achieve?", "Hotel Meridian",
     [src("marketing/case_studies.md", "Hotel Meridian, Utrecht"), src("meetings/2025-02-11_engineering_sync.md", "Project Bluefin")], ["meridian"]),
]

UNANSWERABLE = [
    "What is the dividend per share paid to Brightwater shareholders in 2025?",
    "What is the list price of the Hub H3 in the United States in dollars?",
    "How many parking spaces does the Rotterdam headquarters have?",
    "Which programming language is the Brightwater mobile app written in?",
    "What is the maximum Bluetooth range of the Thermo T3?",
    "Who won the 2025 employee of the year award?",
    "What is the company's policy on bringing dogs to the office?",
    "How much does a replacement CR2477 battery cost from Brightwater?",
    "What was Brightwater's revenue in 2019?",
    "Does the AirSense A4 measure radon?",
    "What is the phone number of the Lisbon office?",
    "How many patents does Brightwater hold?",
    "What is the name of the cafeteria supplier at the Eindhoven office?",
    "What discount do students get on Brightwater Cloud?",
    "Which airline does Brightwater have a corporate contract with?",
    "What is the weight of the Gateway G5 Industrial?",
    "When will Project Sable close?",
    "What is the salary of the CEO?",
    "How many Hub H1 units were sold in total?",
    "What is the maximum number of users per Brightwater Cloud site?",
]
