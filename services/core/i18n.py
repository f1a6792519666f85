"""Messages in English and Chinese. ``Accept-Language: zh*`` gets Chinese, anything else English.

Every error code a service can raise has an entry here (a test checks it)."""

from __future__ import annotations

from typing import Any

MESSAGES: dict[str, tuple[str, str]] = {
    # generic
    "bad_request": ("The request is not valid.", "请求无效。"),
    "validation_failed": ("Some fields are not valid.", "部分字段不符合要求。"),
    "not_authenticated": ("Log in first: a valid bearer token is required.", "请先登录：需要有效的访问令牌。"),
    "token_invalid": ("The access token is invalid or has expired.", "访问令牌无效或已过期。"),
    "login_failed": (
        "Login failed: wrong username, password or one-time code, or the account is locked for a while.",
        "登录失败：用户名、密码或动态验证码错误，或账号已被暂时锁定。",
    ),
    "refresh_invalid": (
        "The refresh token is invalid or has expired; log in again.",
        "刷新令牌无效或已过期，请重新登录。",
    ),
    "field_required": ("This field is required.", "该字段为必填项。"),
    "client_authentication_twice": (
        "Authenticate the client one way: HTTP Basic or client_id and client_secret in the body, not both.",
        "客户端认证只能使用一种方式：HTTP Basic 或请求体中的 client_id 和 client_secret，不能同时使用。",
    ),
    "client_authentication_not_for_users": (
        "Client credentials belong to the client_credentials grant only; a user logs in with username and password.",
        "客户端凭据仅用于 client_credentials 授权；用户请使用用户名和密码登录。",
    ),
    "basic_authorization_malformed": (
        "The Authorization header is not valid HTTP Basic: base64 of client_id:client_secret (each form-urlencoded, UTF-8).",
        "Authorization 请求头不是有效的 HTTP Basic 格式：应为 client_id:client_secret（各自经表单编码，UTF-8）的 base64。",
    ),
    "rate_limited": (
        "Too many requests; try again in {retry_after} seconds.",
        "请求过于频繁，请 {retry_after} 秒后再试。",
    ),
    "reveal_rate_limited": (
        "You have revealed {limit} complete ID numbers in the last {window}; try again in {retry_after} seconds.",
        "最近{window_zh}内已查看 {limit} 个完整身份证号码，请 {retry_after} 秒后再试。",
    ),
    "password_too_short": ("The password needs at least {min_length} characters.", "密码长度至少为 {min_length} 位。"),
    "password_too_simple": (
        "The password needs characters of at least {min_classes} kinds: lower case, upper case, digits, others.",
        "密码须包含小写字母、大写字母、数字、其他字符中的至少 {min_classes} 类。",
    ),
    "password_contains_username": ("The password must not contain the username.", "密码不得包含用户名。"),
    "password_unchanged": ("The new password must differ from the current one.", "新密码不能与当前密码相同。"),
    "password_wrong": ("The current password is wrong.", "当前密码错误。"),
    "password_published": (
        "This password is published (the demo password) and may not be used.",
        "该密码已公开（演示密码），不得使用。",
    ),
    "password_change_required": (
        "Set your own password first (POST /api/v1/auth/password): the one you were given is for one use.",
        "请先修改密码（POST /api/v1/auth/password）：发给您的密码只能使用一次。",
    ),
    "totp_already_enabled": ("The second factor is already set up.", "已设置双因素认证。"),
    "totp_not_pending": ("Start the second-factor setup first.", "请先发起双因素认证设置。"),
    "totp_code_wrong": ("The one-time code is wrong or has expired.", "动态验证码错误或已过期。"),
    "health_flags_forbidden": (
        "Your role may not search by the flags that tell health (disabled, serious_illness).",
        "您的角色无权按健康相关标识（残疾、重病）查询。",
    ),
    "users_only": ("Only user accounts can do this.", "仅用户账号可执行此操作。"),
    "user_not_found": ("No user account {id} in your regions.", "您的管辖范围内没有用户 {id}。"),
    "client_not_found": ("No system client {id} in your regions.", "您的管辖范围内没有接入系统 {id}。"),
    "username_taken": ("This username is taken.", "该用户名已被使用。"),
    "client_name_taken": ("A system client of this name exists.", "已存在同名接入系统。"),
    "own_account": ("You cannot change your own role, scope or status.", "不能修改自己的角色、管辖范围或状态。"),
    "client_revoked": ("This system client has been revoked.", "该接入系统已停用。"),
    "permission_not_grantable": (
        "System clients may only be given: persons:lookup, registry:read, clues:report.",
        "接入系统只能被授予 persons:lookup、registry:read、clues:report 权限。",
    ),
    "forbidden": ("Your role may not do this.", "您的角色无权执行此操作。"),
    "not_found": ("Not found.", "未找到。"),
    "route_not_found": ("There is no such endpoint.", "接口不存在。"),
    "method_not_allowed": ("This method is not allowed here.", "不支持该请求方法。"),
    "conflict": ("The request conflicts with the current state.", "请求与当前状态冲突。"),
    "precondition_failed": (
        "The resource has changed since you read it (ETag {current}); read it again and retry.",
        "该记录在您读取后已被修改（当前 ETag {current}），请重新读取后再提交。",
    ),
    "changed_concurrently": (
        "Someone else changed this record at the same moment; read it again and retry.",
        "该记录刚被他人同时修改，请重新读取后再提交。",
    ),
    "if_match_wildcard": (
        "If-Match: * is not accepted; send the ETag you read (current: {current}).",
        "不接受 If-Match: *，请携带您读取到的 ETag（当前为 {current}）。",
    ),
    "precondition_required": (
        "This update needs an If-Match header with the resource's ETag.",
        "修改操作需要携带 If-Match 请求头（资源的 ETag）。",
    ),
    "payload_too_large": ("The request body is larger than {limit} bytes.", "请求体超过 {limit} 字节上限。"),
    "service_unavailable": (
        "The database is unavailable for the moment (unreachable or busy); try again after Retry-After.",
        "数据库暂时不可用（无法连接或繁忙），请在 Retry-After 所示秒数后重试。",
    ),
    "internal_error": ("An internal error occurred; it has been logged.", "服务器内部错误，已记录。"),
    "idempotency_key_reused": (
        "This Idempotency-Key was already used with a different request.",
        "该 Idempotency-Key 已用于另一个不同的请求。",
    ),
    "idempotency_key_invalid": (
        "An Idempotency-Key must be 1 to {max} visible ASCII characters.",
        "Idempotency-Key 须为 1 至 {max} 个可见 ASCII 字符。",
    ),
    "cursor_invalid": (
        "The page cursor is not valid; start again from the first page.",
        "分页游标无效，请从第一页重新开始。",
    ),
    "unknown_field": ("This field is not accepted here.", "不接受该字段。"),
    # field validation (pydantic error types)
    "missing": ("This field is required.", "此字段为必填项。"),
    "extra_forbidden": ("This field is not accepted here.", "不接受该字段。"),
    "string_too_long": ("At most {max_length} characters.", "最多 {max_length} 个字符。"),
    "string_too_short": ("At least {min_length} characters.", "至少 {min_length} 个字符。"),
    "string_pattern_mismatch": ("The format is not valid.", "格式不正确。"),
    "enum": ("Must be one of: {expected}.", "取值须为：{expected}。"),
    "literal_error": ("Must be one of: {expected}.", "取值须为：{expected}。"),
    "int_parsing": ("Must be a whole number.", "须为整数。"),
    "int_type": ("Must be a whole number.", "须为整数。"),
    "decimal_parsing": ("Must be an amount such as 1234.50.", "须为金额，如 1234.50。"),
    "decimal_type": ("Must be an amount such as 1234.50.", "须为金额，如 1234.50。"),
    "decimal_max_places": (
        "At most {decimal_places} decimal places (yuan and fen).",
        "最多 {decimal_places} 位小数（元、角、分）。",
    ),
    "decimal_max_digits": ("The amount is too large.", "金额过大。"),
    "decimal_whole_digits": (
        "At most {whole_digits} digits before the decimal point.",
        "整数部分最多 {whole_digits} 位。",
    ),
    "greater_than_equal": ("Must be at least {ge}.", "不得小于 {ge}。"),
    "less_than_equal": ("Must be at most {le}.", "不得大于 {le}。"),
    "greater_than": ("Must be greater than {gt}.", "须大于 {gt}。"),
    "less_than": ("Must be less than {lt}.", "须小于 {lt}。"),
    "bool_parsing": ("Must be true or false.", "须为 true 或 false。"),
    "bool_type": ("Must be true or false.", "须为 true 或 false。"),
    "date_parsing": ("Must be a date such as 2026-01-31.", "须为日期，如 2026-01-31。"),
    "date_from_datetime_parsing": ("Must be a date such as 2026-01-31.", "须为日期，如 2026-01-31。"),
    "datetime_parsing": (
        "Must be a time such as 2026-01-31T08:30:00+08:00.",
        "须为时间，如 2026-01-31T08:30:00+08:00。",
    ),
    "string_type": ("Must be text.", "须为文本。"),
    "list_type": ("Must be a list.", "须为列表。"),
    "dict_type": ("Must be an object.", "须为对象。"),
    "model_type": ("Must be an object.", "须为对象。"),
    "json_invalid": ("The body is not valid JSON.", "请求体不是有效的 JSON。"),
    "multipart_invalid": ("The body is not a readable multipart form.", "请求体不是可解析的 multipart 表单。"),
    "too_short": ("At least {min_length} items.", "至少 {min_length} 项。"),
    "too_long": ("At most {max_length} items.", "最多 {max_length} 项。"),
    "value_error": ("The value is not valid.", "取值无效。"),
    "value_not_storable": (
        "A value in the request cannot be stored (a NUL character in text, or a number out of range).",
        "请求中有无法保存的值（文本中含空字符，或数字超出范围）。",
    ),
    # ID numbers
    "id_number_format": (
        "An ID number has 17 digits followed by a digit or X.",
        "身份证号码应为 17 位数字加 1 位数字或 X。",
    ),
    "text_forbidden_characters": (
        "The text contains a control character or an invisible character (a bidirectional or zero-width mark); "
        "only line breaks and tabs are allowed, and only in multi-line text.",
        "文本中含有控制字符或不可见字符（如双向文本控制符、零宽字符）；只有多行文本可以包含换行和制表符。",
    ),
    "id_number_birth_date": ("The ID number contains an impossible birth date.", "身份证号码中的出生日期无效。"),
    "id_number_check_digit": ("The ID number's check digit is wrong.", "身份证号码校验位错误。"),
    "id_number_duplicate": (
        "A person with this ID number is already registered.",
        "该身份证号码的人员已登记。",
    ),
    "id_number_duplicate_in": (
        "A person with this ID number is already a member of household {household_no} (id {household_id}).",
        "该身份证号码的人员已是户 {household_no}（id {household_id}）的成员。",
    ),
    "id_number_repeated": ("The same ID number appears twice in this request.", "同一身份证号码在本次请求中重复出现。"),
    "phone_invalid": (
        "A mobile number is 11 digits starting with 13–19.",
        "手机号码应为 1 开头的 11 位数字（第二位 3–9）。",
    ),
    # regions
    "region_code_malformed": (
        "A region code has 12 digits: province, city, county, township, village.",
        "区划代码应为 12 位数字（省、市、县、乡、村）。",
    ),
    "region_prefix_malformed": (
        "A region prefix has 2, 4, 6, 9 or 12 digits.",
        "区划前缀应为 2、4、6、9 或 12 位数字。",
    ),
    "public_project_not_found": ("There is no published project {id}.", "项目 {id} 不存在或尚未公示。"),
    "region_not_found": ("There is no region {region} you can see.", "区划 {region} 不存在或不在您的权限范围内。"),
    "region_not_village": (
        "A household must belong to a village (a 12-digit village code).",
        "农户须归属到村（12 位村级区划代码）。",
    ),
    # households and persons
    "household_not_found": ("There is no household {id} you can see.", "户 {id} 不存在或不在您的权限范围内。"),
    "household_no_taken": ("Household number {household_no} is already used.", "户编号 {household_no} 已被使用。"),
    "household_dissolved": ("Household {id} has been dissolved and cannot change.", "户 {id} 已注销，不能再修改。"),
    "person_not_found": ("There is no person {id} you can see.", "人员 {id} 不存在或不在您的权限范围内。"),
    "person_id_number_not_found": (
        "No person with this ID number is registered in your regions.",
        "您的权限范围内没有该身份证号码的人员。",
    ),
    "person_not_member": (
        "Person {id} is not a current member of household {household_id}.",
        "人员 {id} 不是户 {household_id} 的现有成员。",
    ),
    "person_deceased": ("Person {id} is recorded as deceased.", "人员 {id} 已登记死亡。"),
    "one_head": ("A household has exactly one head (relation 'head').", "一户有且只有一名户主（relation 为 head）。"),
    "head_cannot_leave": (
        "The head cannot leave the household; name a new head first or split the household.",
        "户主不能直接迁出，请先变更户主或办理分户。",
    ),
    "split_needs_remaining": ("A split must leave at least one member behind.", "分户后原户须至少保留一名成员。"),
    "merge_same_household": ("A household cannot be merged into itself.", "不能将一户并入其自身。"),
    "same_household": ("The person is already a member of that household.", "该人员已是该户成员。"),
    "flags_resettlement": ("A relocated household needs its resettlement site.", "易地扶贫搬迁户须填写安置点。"),
    "category_monitored_reserved": (
        "A household becomes 'monitored' only through a monitoring case.",
        "监测户身份只能通过监测对象识别程序认定。",
    ),
    "date_in_future": ("The date cannot be in the future.", "日期不能晚于今天。"),
    # income
    "income_quarter_exists": (
        "Income for {year} Q{quarter} is already recorded (record {id}); change it with PUT and If-Match.",
        "{year} 年第 {quarter} 季度收入已登记（记录 {id}），请使用 PUT 并携带 If-Match 修改。",
    ),
    "income_record_not_found": (
        "There is no income record {id} you can see.",
        "收入记录 {id} 不存在或不在您的权限范围内。",
    ),
    "income_detail_unknown": ("Unknown detail item {item} for {part}.", "{part} 下不存在明细项 {item}。"),
    "income_details_exceed_part": (
        "The detail items of {part} add up to {total}, more than the part itself ({amount}).",
        "{part} 的明细合计 {total} 超过该项收入 {amount}。",
    ),
    "income_year_future": (
        "Income cannot be recorded for a quarter that has not begun.",
        "不能登记尚未开始的季度收入。",
    ),
    "household_empty": ("The household has no living members.", "该户没有在世成员。"),
    "income_below_needs_year": (
        "income_below and income_year must be given together.",
        "income_below 与 income_year 须同时提供。",
    ),
    # audit trail
    "audit_event_not_found": (
        "There is no audit event {id} you can see.",
        "审计记录 {id} 不存在或不在您的权限范围内。",
    ),
    "audit_object_id_needs_type": ("object_id needs object_type.", "按 object_id 查询时须同时提供 object_type。"),
    "event_type_forbidden": (
        "Your role may not see events of type {type}.",
        "您的角色无权查看 {type} 类型的事件。",
    ),
    "changes_token_invalid": (
        "since is not a token this feed gave for this family: start again without since.",
        "since 不是本类别同步返回的令牌：请不带 since 重新开始同步。",
    ),
    "batch_client_id": (
        "Each item needs a client_id: 1 to 64 letters, digits or . _ : -.",
        "每一项都须有 client_id：1 至 64 个字母、数字或 . _ : -。",
    ),
    "batch_client_id_repeated": (
        "client_id {client_id} is used by two items of the batch.",
        "批次中有两项使用了同一 client_id {client_id}。",
    ),
    "batch_item_kind": ("kind must be one of: {kinds}.", "kind 须为以下之一：{kinds}。"),
    "batch_item_field": ("This field is not part of a batch item.", "批次项中不应有此字段。"),
    "batch_item_param": (
        "{param} is missing or not a valid id for this kind of item.",
        "{param} 缺失或不是此类记录的有效标识。",
    ),
    "batch_item_if_match": (
        "An update needs the if_match (the ETag the phone had).",
        "更新须提供 if_match（手机上记录的版本标识 ETag）。",
    ),
    "batch_item_body": ("body must be a JSON object.", "body 须为 JSON 对象。"),
    "subscription_needs_client": (
        "Only system clients subscribe to events; a user reads them with GET /api/v1/events.",
        "仅接入系统可以订阅事件；用户请通过 GET /api/v1/events 读取事件。",
    ),
    "subscriptions_forbidden": (
        "Only the subscribing system client, or an administrator of system clients, sees subscriptions.",
        "仅订阅的接入系统本身或接入系统管理员可以查看订阅。",
    ),
    "subscription_not_found": ("No subscription {id} of yours.", "没有您可查看的订阅 {id}。"),
    "subscription_exists": (
        "You already have subscription {id} for this callback URL and region.",
        "您已有相同回调地址和区划的订阅 {id}。",
    ),
    "subscription_expired": (
        "The subscription has expired; give a new expires_at to renew it.",
        "订阅已过期；请提供新的 expires_at 以续订。",
    ),
    "subscription_expiry_range": (
        "expires_at must be in the future and at most {days} days from now.",
        "expires_at 须晚于当前时间，且不超过 {days} 天。",
    ),
    "callback_url_invalid": ("The callback URL is not a valid http(s) URL.", "回调地址不是有效的 http(s) 地址。"),
    "callback_url_not_https": ("The callback URL must use https.", "回调地址必须使用 https。"),
    "callback_url_credentials": (
        "The callback URL must not hold a user name or password; the signature authenticates each delivery.",
        "回调地址不得包含用户名或密码；每次投递均带签名认证。",
    ),
    "callback_url_internal": (
        "The callback URL must not point to this machine, a private or link-local network.",
        "回调地址不得指向本机、内网或链路本地地址。",
    ),
    "delivery_not_found": ("No delivery {id} of this subscription.", "该订阅没有投递记录 {id}。"),
    "delivery_not_dead": (
        "Delivery {id} is {status}: only dead deliveries are sent again.",
        "投递记录 {id} 状态为 {status}：仅投递失败的记录可以重新投递。",
    ),
    "audit_time_range": ("since must be before until.", "起始时间（since）须早于截止时间（until）。"),
    # monitoring — clues, cases, measures, visits
    "clue_not_found": ("No risk clue {id} in your regions.", "您的管辖范围内没有风险线索 {id}。"),
    "case_not_found": ("No monitoring case {id} in your regions.", "您的管辖范围内没有监测对象 {id}。"),
    "measure_not_found": ("No assistance measure {id} in your regions.", "您的管辖范围内没有帮扶措施 {id}。"),
    "clue_not_open": ("Clue {id} has been handled already ({status}).", "线索 {id} 已处理（{status}）。"),
    "transition_not_allowed": (
        "A case in status {status} does not allow '{action}'; see 'allowed' for what may be done from here.",
        "处于“{status}”状态的监测对象不能执行“{action}”，可执行的操作见 allowed。",
    ),
    "effective_before_previous": (
        "The step cannot take place before the case's previous step ({previous}).",
        "办理日期不能早于上一步骤的日期（{previous}）。",
    ),
    "consent_required": (
        "Confirming the risk needs the household's signed consent and authorisation (consent_signed).",
        "确认风险须有农户签署的承诺授权书（consent_signed）。",
    ),
    "notice_before_review": (
        "The notice cannot start before the review ({day}).",
        "公示不能早于评议日期（{day}）开始。",
    ),
    "notice_too_short": (
        "A public notice runs at least {days} days: it cannot end before {min_end}.",
        "公示期不少于 {days} 天：结束日期不能早于 {min_end}。",
    ),
    "notice_not_over": (
        "The public notice runs until {notice_end}; its result can be recorded from the day after.",
        "公示期至 {notice_end}，期满后方可登记公示结果。",
    ),
    "way_required": ("Say how the risk was eliminated (way).", "请注明风险消除方式（way）。"),
    "elimination_conditions_unmet": (
        "The risk cannot be declared eliminated: {count} condition(s) unmet (listed in errors).",
        "不符合风险消除条件：{count} 项条件未满足（见 errors）。",
    ),
    "elimination_not_identified": ("The case was never identified.", "该对象未经识别纳入监测。"),
    "elimination_too_early": (
        "Identified on {identified_on}: at least {months} months must pass (not before {earliest}).",
        "{identified_on} 识别纳入，须满 {months} 个月（{earliest} 之前不得消除）。",
    ),
    "elimination_measures_missing": (
        "At least {required} assistance measure(s) must have been carried out (started by {on} and in progress or "
        "completed); {carried_out} so far.",
        "须至少落实 {required} 项帮扶措施（{on} 前已开始实施、实施中或已完成），目前落实 {carried_out} 项。",
    ),
    "elimination_no_income_line": (
        "No monitoring income line is set for {year} in province {province}.",
        "{province} 省份未设置 {year} 年监测标准。",
    ),
    "elimination_income_incomplete": (
        "Income over the twelve months {window} is incomplete: {quarters} of {required} quarters recorded, so it "
        "cannot be judged against the line.",
        "{window} 滚动12个月收入记录不全（已录入 {quarters} 个季度，应为 {required} 个），无法与监测标准比较。",
    ),
    "elimination_income_below_line": (
        "Per-capita net income over the twelve months {window} ({per_capita_net}) is below the {year} line ({line}).",
        "{window} 滚动12个月人均纯收入（{per_capita_net} 元）低于 {year} 年监测标准（{line} 元）。",
    ),
    "elimination_guarantees_unknown": (
        "The three guarantees and safe water have not been verified.",
        "“三保障”和饮水安全情况尚未核实。",
    ),
    "elimination_guarantees_insecure": ("Not secured or not verified: {items}.", "以下保障未落实或未核实：{items}。"),
    "elimination_no_labour": (
        "Nobody in the household can work: it stays under social protection instead.",
        "家庭无劳动能力成员，应纳入兜底保障，不标注风险消除。",
    ),
    "cadre_not_eligible": (
        "User {id} cannot be this case's assistance cadre (an active user who assists households in its region).",
        "用户 {id} 不能担任该户帮扶责任人（须为负责该区域帮扶工作的在用账号）。",
    ),
    # follow-up (docs/follow-up.md)
    "cadre_already_assigned": (
        "User {id} is already the household's responsible cadre.",
        "用户 {id} 已是该户的帮扶责任人。",
    ),
    "assignment_before_current": (
        "A reassignment cannot start before the current cadre's first day ({since}).",
        "调整帮扶责任人的起始日期不能早于现任帮扶责任人的起始日期（{since}）。",
    ),
    "followup_case_open": (
        "Household {id} has an open monitoring case: record the visit on the case (its monthly visits count).",
        "农户 {id} 有未结案的监测对象，请在监测对象下记录走访（每月走访计入跟踪走访）。",
    ),
    "followup_not_applicable": (
        "Household {id} is not on follow-up: neither formerly poor nor a household whose risk was eliminated.",
        "农户 {id} 不在跟踪范围内：既非脱贫户，也非风险已消除户。",
    ),
    "income_quarter_not_due": (
        "The quarter's income is due by {deadline}: nothing is missing before that day has passed.",
        "该季度收入录入截止日期为 {deadline}，截止日期过后才统计未录入农户。",
    ),
    "client_id_reused": (
        "This id is already used for another record; a re-upload must send the same content.",
        "该 id 已被其他记录使用；重复上传须内容一致。",
    ),
    "case_not_assisting": (
        "Measures belong to identified cases under assistance (this one is {status}).",
        "帮扶措施只能添加到已识别、帮扶中的监测对象（当前状态：{status}）。",
    ),
    "measure_closed": ("A {status} measure keeps its status.", "已{status}的措施不能再改变状态。"),
    "case_closed": ("The case is closed ({status}).", "该监测对象已结束（{status}）。"),
    "health_risk_forbidden": (
        "Your role may not search by the risk types that tell health (illness, disability).",
        "您的角色无权按涉及健康的风险类型（因病、因残）查询。",
    ),
    "household_or_id_number": (
        "Name the household (household_id) or a member (id_number), one of the two.",
        "请填写户编号（household_id）或家庭成员身份证号（id_number），二者选一。",
    ),
    "source_required": ("A source reference needs its source.", "填写来源编号时须注明来源。"),
    "notice_end_before_start": ("The notice cannot end before it starts.", "公示结束日期不能早于开始日期。"),
    "end_before_start": ("The end cannot be before the start.", "结束日期不能早于开始日期。"),
    "measure_result_required": ("A completed measure needs its result.", "已完成的措施须填写成效。"),
    # monitoring: income lines, uncovered households, statistics, notices, policy settings (reports helper)
    "income_line_province_only": (
        "Only an account whose regions cover the whole province {province} may set its income line.",
        "只有管辖范围覆盖整个省（{province}）的账号才能设置该省监测标准。",
    ),
    "income_line_not_found": (
        "There is no income line for {year} in province {province}.",
        "{province} 省尚未设置 {year} 年监测标准。",
    ),
    "income_line_missing": (
        "No monitoring income line is set for {year} (province {province}); set it first.",
        "{year} 年监测标准尚未设置（省份 {province}），请先设置。",
    ),
    "statistics_level_above_region": (
        "The level must be the region's own level or below it.",
        "统计层级须为所选区划本级或其下级。",
    ),
    "notice_needs_village": (
        "Public notice lists are per village: give a 12-digit village code.",
        "公示名单按村生成，请提供 12 位村级区划代码。",
    ),
    "policy_not_found": (
        "There is no policy override {id} you can see.",
        "政策参数调整记录 {id} 不存在或不在您的权限范围内。",
    ),
    "policy_region_too_wide": (
        "This override is for a wider region than yours; only that region's staff may change it.",
        "该参数调整适用于比您管辖范围更大的区域，只能由该区域的工作人员修改。",
    ),
    "policy_values_empty": ("Name at least one policy figure to override.", "请至少提供一项要调整的政策参数。"),
    "policy_value_unknown": ("The monitoring policy has no such figure.", "监测政策中没有该参数。"),
    "policy_value_renamed": (
        "The figure {name} has been renamed {new}; send the new name.",
        "参数 {name} 已更名为 {new}，请使用新名称。",
    ),
    "policy_value_invalid": ("Not a valid value for this figure: {reason}", "该参数取值无效：{reason}"),
    "sync_policy_below_county": (
        "Department cross-checks run per county: thresholds are set for a county or a wider region "
        "(a region prefix of at most 6 digits).",
        "部门比对按县开展：规则参数只能按县级或更大范围设置（区划前缀不超过6位）。",
    ),
    "policy_exists": (
        "An override for this region and year exists already; change it instead.",
        "该区域该年度的参数调整已存在，请修改已有记录。",
    ),
    # department sync: sources, runs, quarantine, findings (API)
    "sync_source_not_found": (
        "There is no department source {source} serving a county you can see.",
        "不存在数据源 {source}，或其服务的县不在您的权限范围内。",
    ),
    "county_not_found": (
        "There is no county {county} you can see (runs and quarantine are seen from county level up).",
        "县 {county} 不存在或不在您的权限范围内（同步任务和隔离记录仅县级及以上可见）。",
    ),
    "unsupported_media_type": ("The file is not of a kind this operation reads.", "不支持该文件类型。"),
    "upload_type_unsupported": (
        "{file} is not a spreadsheet this import reads: send an .xlsx, .xls or .csv file.",
        "{file} 不是可导入的表格文件：请上传 .xlsx、.xls 或 .csv 文件。",
    ),
    "upload_type_mismatch": (
        "{file} is not what its name says ({suffix}): its content is of another kind. Save it again as .xlsx or .csv.",
        "{file} 的内容与其扩展名（{suffix}）不符，请另存为 .xlsx 或 .csv 后重新上传。",
    ),
    "upload_empty": ("The file {file} is empty.", "文件 {file} 为空。"),
    "upload_unreadable": (
        "The file {file} cannot be read ({detail}); nothing was imported.",
        "文件 {file} 已损坏或无法读取（{detail}），未导入任何数据。",
    ),
    "upload_no_header": (
        "No header row found in {file}: the first rows must name the ID number column and at least one other "
        "known column; nothing was imported.",
        "文件 {file} 中未找到表头：前几行须包含身份证号列及至少一个可识别的列，未导入任何数据。",
    ),
    "upload_too_large": (
        "The file {file} is too large to read safely ({detail}); nothing was imported. Split it or save it as CSV.",
        "文件 {file} 过大，无法安全读取（{detail}），未导入任何数据。请拆分文件或另存为 CSV。",
    ),
    "sync_import_busy": (
        "A run of {source} for county {county} is queued or running; import the file when it ends.",
        "数据源 {source} 在县 {county} 的同步任务正在排队或运行，请待其结束后再导入。",
    ),
    "sync_county_not_served": (
        "Source {source} does not serve county {county}.",
        "数据源 {source} 不含县 {county} 的数据。",
    ),
    "sync_run_not_found": ("There is no sync run {id} you can see.", "同步任务 {id} 不存在或不在您的权限范围内。"),
    "quarantined_record_not_found": (
        "There is no quarantined record {id} you can see.",
        "隔离记录 {id} 不存在或不在您的权限范围内。",
    ),
    "sync_breaker_open": (
        "Source {source} is failing: its circuit breaker is open until {until}. The run is queued and starts after.",
        "数据源 {source} 连续失败，已熔断至 {until}；同步任务已排队，届时开始。",
    ),
    "finding_not_found": ("There is no finding {id} you can see.", "比对发现 {id} 不存在或不在您的权限范围内。"),
    "finding_note_required": (
        "Say what was done (note) to resolve a finding.",
        "标记为已处理时须填写处理说明（note）。",
    ),
    "health_rule_forbidden": (
        "Your role may not search by the rules that tell health (large medical costs …).",
        "您的角色无权按涉及健康的规则（大额医疗支出等）查询。",
    ),
    # ---- funds, projects, assets (mine)
    "fund_not_found": ("There is no fund {id} you can see.", "资金 {id} 不存在或不在您的权限范围内。"),
    "project_not_found": ("There is no project {id} you can see.", "项目 {id} 不存在或不在您的权限范围内。"),
    "fund_region_not_county": (
        "A fund is received by a county: give the county's 12-digit code.",
        "资金指标下达到县：请填写县级 12 位区划代码。",
    ),
    "fund_received_after_year": (
        "A fund of {year} cannot be received after {year}.",
        "{year} 年度资金不能在 {year} 年之后下达。",
    ),
    "fund_below_allocated": (
        "The amount {amount} is below the {allocated} already allocated to projects.",
        "金额 {amount} 低于已分配到项目的 {allocated}。",
    ),
    "fund_received_after_allocation": (
        "The fund was already allocated on {first}: it cannot be received later.",
        "该资金已于 {first} 分配到项目，下达日期不能晚于此日。",
    ),
    "allocation_year_mismatch": (
        "The project is of {project_year}, the fund of {fund_year}.",
        "项目年度为 {project_year}，资金年度为 {fund_year}，不一致。",
    ),
    "allocation_region_mismatch": ("The project lies outside the fund's county.", "项目不在该资金所属县内。"),
    "project_not_in_library": (
        "The project is {status}: only projects reviewed into the library receive funds.",
        "项目当前为 {status}，只有评审入库的项目才能分配资金。",
    ),
    "allocation_before_fund": (
        "Money cannot be allocated before the fund was received ({received_on}).",
        "分配日期不能早于资金下达日期（{received_on}）。",
    ),
    "allocation_exceeds_fund": (
        "The fund has {available} left ({fund} received, {allocated} allocated); {requested} does not fit.",
        "该资金可分配余额为 {available}（下达 {fund}，已分配 {allocated}），不足 {requested}。",
    ),
    "project_not_approved": (
        "The project is {status}: payments start once it is approved.",
        "项目当前为 {status}，批复后方可支出。",
    ),
    "fund_not_allocated_to_project": (
        "Fund {fund_id} has allocated nothing to this project.",
        "资金 {fund_id} 未向该项目分配资金。",
    ),
    "disbursement_before_allocation": (
        "A payment cannot precede the allocation ({allocated_on}).",
        "支付日期不能早于资金分配日期（{allocated_on}）。",
    ),
    "disbursement_exceeds_allocation": (
        "The fund allocated {allocated} to this project and paid {disbursed}: {available} left, {requested} does not fit.",
        "该资金向本项目分配 {allocated}，已支出 {disbursed}，余额 {available}，不足 {requested}。",
    ),
    "negative_list_item": (
        "{kind} funds may not pay for {item}: it is on the negative list.",
        "{kind} 类资金不得用于负面清单事项：{item}。",
    ),
    "import_row_invalid": ("This row is not valid: {reason}", "该行数据无效：{reason}"),
    "project_step_skipped": (
        "The project is {status}: {requested} would skip a step. Next: {allowed}.",
        "项目当前为 {status}，{requested} 跳过了环节。下一环节：{allowed}。",
    ),
    "project_step_not_allowed": (
        "The project is {status}: {requested} is not possible. Next: {allowed}.",
        "项目当前为 {status}，不能进行 {requested}。下一环节：{allowed}。",
    ),
    "project_step_before_previous": (
        "The day is before the previous step ({step}, {previous}).",
        "日期早于上一环节（{step}，{previous}）。",
    ),
    "cancel_reason_required": ("Say why the project is cancelled (note).", "取消项目须说明原因（note）。"),
    "project_region_level": ("A project lies in a township or a village.", "项目须位于乡镇或村。"),
    "project_year_outside_plan": (
        "The planned dates must cover the project's year {year}.",
        "计划起止日期须覆盖项目年度 {year}。",
    ),
    "planned_end_before_start": ("The planned end is before the planned start.", "计划完工日期早于计划开工日期。"),
    "project_closed": ("The project is {status}: it changes no more.", "项目当前为 {status}，不能再修改。"),
    "project_no_assets": (
        "Register the project's assets before handing them over.",
        "请先登记项目资产，再办理资产移交。",
    ),
    "labour_pay_without_days": ("Labour pay needs the days worked.", "发放劳务报酬须填写务工天数。"),
    "beneficiary_exists": (
        "Household {id} is already a beneficiary of this project.",
        "农户 {id} 已是本项目的受益户。",
    ),
    # funds — project assets, their income, fund findings
    "asset_not_found": ("There is no asset {id} you can see.", "资产 {id} 不存在或不在您的权限范围内。"),
    "fund_finding_not_found": (
        "There is no fund finding {id} you can see.",
        "监管发现 {id} 不存在或不在您的权限范围内。",
    ),
    "project_not_accepted": (
        "Assets are registered from accepted projects; project {id} is {status}.",
        "只有已验收的项目才能登记资产；项目 {id} 当前状态为 {status}。",
    ),
    "asset_household_required": (
        "A household asset names its household (household_id).",
        "到户类资产须填写所属农户（household_id）。",
    ),
    "asset_household_forbidden": ("Only a household asset names a household.", "只有到户类资产才能填写所属农户。"),
    "asset_region_outside_project": (
        "The asset's region {region} lies outside the project's region {project_region}.",
        "资产所在区划 {region} 不在项目区划 {project_region} 范围内。",
    ),
    "handover_before_acceptance": (
        "The handover ({date}) cannot be before the project's acceptance ({earliest}).",
        "移交日期（{date}）不能早于项目验收日期（{earliest}）。",
    ),
    "date_before_handover": (
        "The date ({date}) cannot be before the asset's handover ({earliest}).",
        "日期（{date}）不能早于资产移交日期（{earliest}）。",
    ),
    "asset_disposed": (
        "Asset {id} was disposed of on {disposed_on} and changes no more.",
        "资产 {id} 已于 {disposed_on} 处置，不能再变更。",
    ),
    "asset_earns_no_income": (
        "A {asset_class} asset does not record income here (asset {id}).",
        "{asset_class} 类资产不在此登记收益（资产 {id}）。",
    ),
    "shares_exceed_income": (
        "The shares add up to {distributed}, more than the income ({amount}).",
        "分配金额合计 {distributed} 超过收益金额 {amount}。",
    ),
    "share_household_twice": ("Household {id} has more than one share.", "农户 {id} 重复分配。"),
    # field work — roster, screening campaigns, village-based teams (docs/field-work.md)
    "roster_member_not_found": (
        "There is no roster member {id} you can see.",
        "人员 {id} 不存在或不在您的权限范围内。",
    ),
    "attendance_not_found": (
        "There is no attendance record {id} you can see.",
        "驻村记录 {id} 不存在或不在您的权限范围内。",
    ),
    "roster_region_level": (
        "A roster member covers a county, a township or a village.",
        "名册人员的负责区域须为区县、乡镇（街道）或村（社区）。",
    ),
    "roster_period_reversed": ("The last day of service comes before the first.", "离岗日期早于到岗日期。"),
    "attendance_not_resident": (
        "Attendance is recorded for village-based team members (role resident_team) only.",
        "只有驻村工作队员才能登记在村天数。",
    ),
    "attendance_days_exceed_month": ("The month has only {days} days.", "该月只有 {days} 天。"),
    "attendance_outside_service": (
        "The member does not serve in that month.",
        "该队员在该月不在岗。",
    ),
    "attendance_exists": (
        "Attendance for {month} is already recorded for this member.",
        "该队员 {month} 的在村天数已登记。",
    ),
    "campaign_not_found": ("There is no campaign {id} you can see.", "排查行动 {id} 不存在或不在您的权限范围内。"),
    "campaign_region_too_wide": (
        "The campaign covers a wider region than yours: only its own region's staff may change it.",
        "该排查行动的范围大于您的管辖范围，只能由上级组织者修改。",
    ),
    "campaign_region_level": (
        "A campaign screens a county, a township or a village (6, 9 or 12 digits).",
        "排查范围须为区县、乡镇或村（6、9 或 12 位区划代码）。",
    ),
    "campaign_period_reversed": ("The last day comes before the first.", "结束日期早于开始日期。"),
    "campaign_visits_outside_period": (
        "Visits already recorded would fall outside the new period.",
        "已有走访记录将落在新的期间之外。",
    ),
    "campaign_village_outside": (
        "The village is not in the campaign's region {region}.",
        "该村不在排查行动的范围 {region} 内。",
    ),
    "campaign_team_size": (
        "A team has {size} members (the policy in force).",
        "按现行政策，每组须为 {size} 人。",
    ),
    "roster_member_inactive": (
        "Roster member {id} does not serve during the campaign.",
        "人员 {id} 在排查期间不在岗。",
    ),
    "campaign_household_outside": (
        "The household is not in the campaign's region {region}.",
        "该农户不在排查行动的范围 {region} 内。",
    ),
    "campaign_visit_outside_period": (
        "The visit's day (China time) is outside the campaign's period, {starts_on} to {ends_on}.",
        "走访日期（北京时间）不在排查期间 {starts_on} 至 {ends_on} 内。",
    ),
    "visit_check_not_in_campaign": (
        "{check} is not among the campaign's checks.",
        "{check} 不在本次排查内容之内。",
    ),
    "visit_problem_unchecked": (
        "A problem can only be reported for an item that was checked.",
        "只能对已排查的项目报告问题。",
    ),
    "campaign_team_not_found": (
        "The campaign has no team {id} you can see.",
        "本次排查行动中没有小组 {id}，或不在您的权限范围内。",
    ),
    "campaign_team_other_village": (
        "That team is assigned another village.",
        "该小组负责的是其他村。",
    ),
    "campaign_visit_exists": (
        "The household already has a visit record in this campaign (record {id}).",
        "该农户在本次排查中已有走访记录（记录 {id}）。",
    ),
    "campaign_visit_not_found": (
        "There is no campaign visit {id} you can see.",
        "走访记录 {id} 不存在或不在您的权限范围内。",
    ),
    "campaign_visit_clue_exists": (
        "This visit's finding is already risk clue {id}.",
        "该走访发现已转为风险线索 {id}。",
    ),
    "campaign_region_outside": (
        "That region is outside the campaign's region {region}.",
        "该区域不在排查行动的范围 {region} 内。",
    ),
    # the clearing ledger and the rectification ledger
    "clearing_entry_not_found": (
        "There is no clearing-ledger entry {id} you can see.",
        "清零台账记录 {id} 不存在或不在您的权限范围内。",
    ),
    "clearing_entry_open": (
        "The household already has an open entry for {kind} (entry {id}).",
        "该户的 {kind} 问题已有未清零的台账记录（{id}），不重复登记。",
    ),
    "clearing_entry_cleared": ("Entry {id} is already cleared.", "台账记录 {id} 已清零销号。"),
    "person_not_in_household": (
        "Person {id} is not a member of household {household}.",
        "人员 {id} 不是农户 {household} 的成员。",
    ),
    "date_before_opening": (
        "The date ({date}) cannot be before the day the problem was found ({earliest}).",
        "日期（{date}）不能早于问题发现日期（{earliest}）。",
    ),
    "month_not_begun": ("The month {month} has not begun yet.", "月份 {month} 尚未开始。"),
    "quarter_not_begun": ("The quarter {quarter} has not begun yet.", "季度 {quarter} 尚未开始。"),
    "report_period_malformed": (
        "The period {period} is not a month (YYYY-MM) or a quarter (YYYY-Qn).",
        "报表期间 {period} 格式不正确，月份应为 YYYY-MM，季度应为 YYYY-Qn。",
    ),
    "report_not_found": (
        "There is no stored report {id} you can see.",
        "报表 {id} 不存在或不在您的权限范围内。",
    ),
    "rectification_not_found": (
        "There is no problem {id} you can see in the rectification ledger.",
        "整改问题 {id} 不存在或不在您的权限范围内。",
    ),
    "rectification_closed": ("Problem {id} is closed and changes no more.", "整改问题 {id} 已销号，不能再变更。"),
    "rectification_not_open": (
        "Closure can be requested only for a problem being rectified (problem {id} is {status}).",
        "只有整改中的问题才能申请销号（问题 {id} 当前为 {status}）。",
    ),
    "rectification_no_request": (
        "No closure of problem {id} has been requested (it is {status}).",
        "问题 {id} 尚未申请销号（当前为 {status}）。",
    ),
    "approve_own_request": (
        "You requested this closure: a second person with the approver's role must decide it.",
        "销号申请由您本人提出，须由另一名具有审批权限的人员审批。",
    ),
    "household_outside_region": (
        "Household {id} does not lie within region {region}.",
        "农户 {id} 不在区划 {region} 范围内。",
    ),
}


def wants_chinese(accept_language: str | None) -> bool:
    """True when the first language the client prefers is Chinese (zh, zh-CN, zh-Hans …)."""
    if not accept_language:
        return False
    best: str | None = None
    best_q = -1.0
    for part in accept_language.split(","):
        lang, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if q > best_q:
            best, best_q = lang.strip().lower(), q
    return best is not None and best.startswith("zh")


def message(code: str, chinese: bool, params: dict[str, Any] | None = None) -> str:
    en, zh = MESSAGES.get(code, MESSAGES["bad_request"])
    template = zh if chinese else en
    try:
        return template.format(**(params or {}))
    except (KeyError, IndexError, ValueError):
        return template
