"""Static vocabulary: names, cities, products, stores, campaigns and feedback text.

All lists are tuples in a fixed order so that seeded draws are reproducible.
"""
from __future__ import annotations

# Korean surnames with their approximate population share (Statistics Korea 2015),
# and a romanisation used to build email local parts and handles.
KO_SURNAMES = (
    ("김", "kim", 21.5), ("이", "lee", 14.7), ("박", "park", 8.4), ("최", "choi", 4.7),
    ("정", "jung", 4.3), ("강", "kang", 2.3), ("조", "cho", 2.1), ("윤", "yoon", 2.1),
    ("장", "jang", 2.0), ("임", "lim", 1.7), ("한", "han", 1.5), ("오", "oh", 1.5),
    ("서", "seo", 1.5), ("신", "shin", 1.5), ("권", "kwon", 1.4), ("황", "hwang", 1.4),
    ("안", "ahn", 1.3), ("송", "song", 1.3), ("류", "ryu", 1.2), ("홍", "hong", 1.1),
)
# Given names popular for births 1970-2010, with gender and romanisation.
KO_GIVEN = (
    ("민지", "minji", "F"), ("서연", "seoyeon", "F"), ("지우", "jiwoo", "F"), ("하은", "haeun", "F"),
    ("수아", "sua", "F"), ("지민", "jimin", "F"), ("예은", "yeeun", "F"), ("유진", "yujin", "F"),
    ("지현", "jihyun", "F"), ("수빈", "subin", "F"), ("은지", "eunji", "F"), ("혜진", "hyejin", "F"),
    ("미영", "miyoung", "F"), ("정은", "jungeun", "F"), ("소연", "soyeon", "F"), ("다은", "daeun", "F"),
    ("서준", "seojun", "M"), ("도윤", "doyoon", "M"), ("예준", "yejun", "M"), ("하준", "hajun", "M"),
    ("지호", "jiho", "M"), ("민준", "minjun", "M"), ("현우", "hyunwoo", "M"), ("준호", "junho", "M"),
    ("성민", "sungmin", "M"), ("동현", "donghyun", "M"), ("재원", "jaewon", "M"), ("상훈", "sanghoon", "M"),
    ("영수", "youngsoo", "M"), ("태윤", "taeyoon", "M"), ("진우", "jinwoo", "M"), ("승현", "seunghyun", "M"),
)
EN_FIRST = (
    ("Emma", "F"), ("Olivia", "F"), ("Sophia", "F"), ("Grace", "F"), ("Chloe", "F"), ("Hannah", "F"),
    ("Sarah", "F"), ("Emily", "F"), ("James", "M"), ("Daniel", "M"), ("Michael", "M"), ("David", "M"),
    ("Lucas", "M"), ("Ethan", "M"), ("Ryan", "M"), ("Thomas", "M"),
)
EN_LAST = ("Smith", "Johnson", "Brown", "Miller", "Wilson", "Taylor", "Anderson", "Martin", "Lee", "Kim",
           "Park", "Walker", "Clark", "Lewis", "Young", "Hall")

# Reserved example domains only: the generator never produces addresses that could
# belong to a real mailbox.  The mix mimics Korean webmail shares (Naver, Gmail, Daum, ...).
EMAIL_DOMAINS = (("example.com", 0.30), ("example.kr", 0.25), ("example.net", 0.15),
                 ("mail.example.kr", 0.12), ("example.org", 0.10), ("corp.example.com", 0.08))

# City, region (GA4 region / store region) and population weight.
CITIES = (
    ("Seoul", "Seoul", 0.36), ("Busan", "Busan", 0.10), ("Incheon", "Incheon", 0.08),
    ("Daegu", "Daegu", 0.07), ("Daejeon", "Daejeon", 0.05), ("Gwangju", "Gwangju", 0.05),
    ("Suwon", "Gyeonggi-do", 0.08), ("Seongnam", "Gyeonggi-do", 0.06), ("Goyang", "Gyeonggi-do", 0.05),
    ("Yongin", "Gyeonggi-do", 0.05), ("Ulsan", "Ulsan", 0.03), ("Jeju", "Jeju-do", 0.02),
)

# Catalogue: sku, Korean title, English title, category, price KRW (rounded to 100).
PRODUCTS = (
    ("P0001", "울 코트", "Wool Coat", "outerwear", 189000),
    ("P0002", "숏 패딩", "Short Puffer Jacket", "outerwear", 159000),
    ("P0003", "롱 패딩", "Long Puffer Coat", "outerwear", 269000),
    ("P0004", "트렌치 코트", "Trench Coat", "outerwear", 219000),
    ("P0005", "캐시미어 코트", "Cashmere Coat", "outerwear", 390000),
    ("P0006", "데님 재킷", "Denim Jacket", "outerwear", 89000),
    ("P0007", "플리스 집업", "Fleece Zip-up", "outerwear", 59900),
    ("P0008", "경량 패딩 조끼", "Light Down Vest", "outerwear", 49900),
    ("P0009", "케이블 니트", "Cable Knit Sweater", "knitwear", 69900),
    ("P0010", "캐시미어 니트", "Cashmere Sweater", "knitwear", 149000),
    ("P0011", "니트 가디건", "Knit Cardigan", "knitwear", 59900),
    ("P0012", "터틀넥 니트", "Turtleneck Sweater", "knitwear", 49900),
    ("P0013", "옥스퍼드 셔츠", "Oxford Shirt", "shirts", 45900),
    ("P0014", "린넨 셔츠", "Linen Shirt", "shirts", 49900),
    ("P0015", "스트라이프 셔츠", "Striped Shirt", "shirts", 39900),
    ("P0016", "베이직 티셔츠", "Basic T-shirt", "tops", 15900),
    ("P0017", "오버핏 맨투맨", "Oversized Sweatshirt", "tops", 39900),
    ("P0018", "후드 티셔츠", "Hoodie", "tops", 49900),
    ("P0019", "히트텍 이너", "Thermal Innerwear", "tops", 9900),
    ("P0020", "와이드 슬랙스", "Wide Slacks", "bottoms", 49900),
    ("P0021", "스트레이트 청바지", "Straight Jeans", "bottoms", 59900),
    ("P0022", "조거 팬츠", "Jogger Pants", "bottoms", 35900),
    ("P0023", "플리츠 스커트", "Pleated Skirt", "bottoms", 45900),
    ("P0024", "코듀로이 팬츠", "Corduroy Pants", "bottoms", 52900),
    ("P0025", "니트 원피스", "Knit Dress", "dresses", 79900),
    ("P0026", "셔츠 원피스", "Shirt Dress", "dresses", 69900),
    ("P0027", "가죽 스니커즈", "Leather Sneakers", "shoes", 129000),
    ("P0028", "첼시 부츠", "Chelsea Boots", "shoes", 169000),
    ("P0029", "러닝화", "Running Shoes", "shoes", 99000),
    ("P0030", "슬리퍼", "Slides", "shoes", 19900),
    ("P0031", "가죽 토트백", "Leather Tote Bag", "bags", 239000),
    ("P0032", "캔버스 에코백", "Canvas Tote", "bags", 25900),
    ("P0033", "미니 크로스백", "Mini Crossbody Bag", "bags", 89000),
    ("P0034", "백팩", "Backpack", "bags", 79000),
    ("P0035", "울 머플러", "Wool Scarf", "accessories", 39900),
    ("P0036", "니트 비니", "Knit Beanie", "accessories", 19900),
    ("P0037", "가죽 장갑", "Leather Gloves", "accessories", 45900),
    ("P0038", "양말 3팩", "Socks 3-pack", "accessories", 12900),
    ("P0039", "가죽 벨트", "Leather Belt", "accessories", 49000),
    ("P0040", "볼캡", "Baseball Cap", "accessories", 29900),
)
# Relative popularity of products (basics and outerwear sell most in winter).
PRODUCT_WEIGHTS = (8, 6, 5, 3, 1, 3, 4, 4, 5, 2, 4, 5, 4, 2, 3, 9, 6, 6, 10, 6,
                   6, 5, 3, 3, 2, 2, 3, 2, 3, 4, 1, 4, 2, 2, 4, 5, 2, 8, 2, 4)

CATEGORY_TITLES = {"outerwear": "아우터", "knitwear": "니트", "shirts": "셔츠", "tops": "상의",
                   "bottoms": "하의", "dresses": "원피스", "shoes": "신발", "bags": "가방",
                   "accessories": "액세서리"}

# Stores: id, Korean name, region (store region vocabulary), city, traffic weight.
STORES = (
    ("S001", "강남점", "Seoul", "Seoul", 10), ("S002", "명동점", "Seoul", "Seoul", 9),
    ("S003", "홍대점", "Seoul", "Seoul", 8), ("S004", "잠실점", "Seoul", "Seoul", 7),
    ("S005", "여의도점", "Seoul", "Seoul", 5), ("S006", "해운대점", "Busan", "Busan", 6),
    ("S007", "서면점", "Busan", "Busan", 5), ("S008", "동성로점", "Daegu", "Daegu", 5),
    ("S009", "송도점", "Incheon", "Incheon", 4), ("S010", "둔산점", "Daejeon", "Daejeon", 4),
    ("S011", "충장로점", "Gwangju", "Gwangju", 3), ("S012", "수원점", "Gyeonggi", "Suwon", 5),
    ("S013", "판교점", "Gyeonggi", "Seongnam", 6), ("S014", "일산점", "Gyeonggi", "Goyang", 3),
)

SHOP = "https://shop.example.kr"
APP_ID = "kr.example.shop"
APP_VERSIONS = ("5.1.2", "5.2.0", "5.2.1")
BRAND_HANDLES = {"instagram": "@touchpoint.kr", "facebook": "@touchpointkorea", "x": "@touchpoint_kr",
                 "youtube": "@touchpointTV", "naver_blog": "@touchpoint_official"}

# Paid campaigns: platform, campaign id, campaign name (= utm_campaign), utm source, utm medium,
# CPM KRW, CTR, share of the platform budget.
AD_CAMPAIGNS = (
    ("meta", "23851234500001", "winter_sale", "instagram", "paid_social", 7000, 0.011, 0.6),
    ("meta", "23851234500002", "retargeting_cart", "facebook", "paid_social", 9000, 0.014, 0.4),
    ("google", "1784523001", "brand_search", "google", "cpc", 9000, 0.040, 0.35),
    ("google", "1784523002", "pmax_shopping", "google", "cpc", 4000, 0.012, 0.65),
    ("naver", "NV-778812", "winter_sale", "naver", "cpc", 3000, 0.018, 0.5),
    ("naver", "NV-778813", "brand_search", "naver", "cpc", 3500, 0.035, 0.5),
    ("kakao", "KK-30211", "kakao_moment_winter", "kakao", "display", 3500, 0.009, 1.0),
)
AD_PLATFORM_BUDGET = {"meta": 0.35, "google": 0.25, "naver": 0.30, "kakao": 0.10}

# Session traffic sources: (source, medium, campaign or None, weight).
ORGANIC_SOURCES = (
    ("(direct)", "(none)", None, 0.22), ("google", "organic", None, 0.14), ("naver", "organic", None, 0.20),
    ("instagram", "social", None, 0.06), ("kakao", "message", "kakao_plus_friend", 0.04),
    ("daum", "organic", None, 0.02),
)
PAID_SHARE = 0.32   # of sessions that arrive from a paid campaign (split as AD_CAMPAIGNS budget)

# Email campaign names by week number (Korean or English).
EMAIL_CAMPAIGNS = (
    ("WINTER", "겨울 시즌 세일"), ("NEWIN", "이번 주 신상품"), ("VIP", "VIP 회원 전용 혜택"),
    ("OUTER", "아우터 기획전"), ("KNIT", "Knitwear Week"), ("GIFT", "연말 선물 가이드"),
    ("BASIC", "베이직 아이템 1+1"), ("WEEKEND", "Weekend Flash Sale"),
)

DISCOUNT_CODES = (("WELCOME10", "percentage", 0.10), ("WINTER15", "percentage", 0.15),
                  ("SAVE5000", "fixed_amount", 5000), ("APP10", "percentage", 0.10))

USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)",
    "Mozilla/5.0 (Linux; Android 15; SM-S928N)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)",
    "NaverMail/1.0 (Android)",
)

# Feedback categories (truth/feedback_labels.csv) and ticket subjects / texts.
CATEGORIES = ("delivery", "product_quality", "price", "service", "app_bug", "store_experience", "other")

# (category, sentiment) -> list of (ko, en) texts.  Kept on one line each: no newlines.
FEEDBACK_TEXT = {
    ("delivery", "positive"): (("배송이 정말 빨라요! 다음 날 받았어요", "Arrived the next day, super fast delivery"),
                               ("포장도 꼼꼼하고 배송 빨라서 좋았어요", "Well packed and quick shipping")),
    ("delivery", "neutral"): (("배송은 보통이었어요", "Delivery was okay, nothing special"),
                              ("예정일에 맞춰 왔어요", "Arrived on the expected date")),
    ("delivery", "negative"): (("주문한 지 일주일이 지났는데 아직도 안 왔어요", "Ordered a week ago and still not delivered"),
                               ("배송 지연 안내도 없이 늦게 왔네요", "Late delivery with no notice at all")),
    ("product_quality", "positive"): (("재질이 좋고 핏이 예뻐요. 재구매 의사 있어요", "Great fabric and fit, will buy again"),
                                      ("따뜻하고 가벼워서 매일 입어요", "Warm and light, I wear it every day")),
    ("product_quality", "neutral"): (("가격 대비 무난한 품질이에요", "Decent quality for the price"),
                                     ("사진이랑 색이 조금 달라요", "Colour is a bit different from the photos")),
    ("product_quality", "negative"): (("한 번 세탁했더니 보풀이 심하게 생겼어요", "Pilled badly after one wash"),
                                      ("박음질이 풀려서 왔어요. 실망입니다", "Stitching came loose, very disappointed")),
    ("price", "positive"): (("세일 가격으로 득템했어요", "Great deal during the sale"),
                            ("이 가격에 이 퀄리티면 만족합니다", "Excellent value for money")),
    ("price", "neutral"): (("할인할 때 사는 게 좋을 것 같아요", "Better to buy when it is on sale"),
                           ("가격은 적당한 편이에요", "Price is fair")),
    ("price", "negative"): (("구매 다음 날 가격이 내려갔어요. 차액 환불 되나요?", "Price dropped the day after I bought it, can I get the difference?"),
                            ("품질에 비해 너무 비싸요", "Too expensive for the quality")),
    ("service", "positive"): (("상담원분이 친절하게 해결해 주셨어요", "The agent was very kind and solved it quickly"),
                              ("교환 처리가 빨라서 감사합니다", "Thanks for the fast exchange")),
    ("service", "neutral"): (("문의 답변은 받았어요", "Got an answer to my question"),
                             ("교환 절차를 알려주세요", "Please tell me how to exchange an item")),
    ("service", "negative"): (("고객센터 연결이 너무 안 돼요", "Could not reach customer service at all"),
                              ("환불 요청했는데 답이 없어요", "Asked for a refund and got no reply")),
    ("app_bug", "positive"): (("앱 업데이트 후 훨씬 편해졌어요", "The app update made shopping much easier"),
                              ("앱으로 주문하니 간편해요", "Ordering in the app is easy")),
    ("app_bug", "neutral"): (("앱에서 쿠폰 적용 방법을 모르겠어요", "How do I apply a coupon in the app?"),
                             ("앱 알림 설정은 어디서 하나요", "Where are the app notification settings?")),
    ("app_bug", "negative"): (("앱에서 결제 버튼을 누르면 튕겨요", "The app crashes when I tap pay"),
                              ("로그인이 계속 풀려요", "The app keeps logging me out")),
    ("store_experience", "positive"): (("매장 직원분이 사이즈 추천을 잘 해주셨어요", "Store staff helped me find the right size"),
                                       ("강남점 분위기 너무 좋아요", "Lovely atmosphere in the store")),
    ("store_experience", "neutral"): (("매장에 재고가 별로 없었어요", "The store did not have much stock"),
                                      ("피팅룸 대기가 조금 길었어요", "Waited a while for the fitting room")),
    ("store_experience", "negative"): (("매장 직원이 불친절했어요", "Store staff were rude"),
                                       ("매장에서 교환을 거절당했어요", "The store refused my exchange")),
    ("other", "positive"): (("항상 잘 이용하고 있어요", "Love this brand"), ("친구한테도 추천했어요", "Recommended it to my friends")),
    ("other", "neutral"): (("회원 등급 기준이 궁금해요", "What are the membership tier rules?"),
                           ("매장 영업시간 알려주세요", "What are the store opening hours?")),
    ("other", "negative"): (("광고 문자가 너무 많이 와요", "Too many marketing messages"),
                            ("회원 탈퇴하고 싶어요", "I want to delete my account")),
}
TICKET_SUBJECTS = {
    "delivery": ("배송 지연 문의", "Where is my order?"), "product_quality": ("불량 상품 교환 요청", "Defective item"),
    "price": ("가격 및 쿠폰 문의", "Coupon / price question"), "service": ("환불 처리 문의", "Refund request"),
    "app_bug": ("앱 오류 신고", "App error"), "store_experience": ("매장 이용 불만", "Store visit complaint"),
    "other": ("기타 문의", "General question"),
}
# Category mix of what people write about.
TICKET_CATEGORY_WEIGHTS = (0.34, 0.18, 0.10, 0.16, 0.10, 0.05, 0.07)
REVIEW_CATEGORY_WEIGHTS = (0.20, 0.55, 0.12, 0.05, 0.02, 0.01, 0.05)
SOCIAL_CATEGORY_WEIGHTS = (0.12, 0.40, 0.12, 0.08, 0.05, 0.10, 0.13)
SURVEY_CATEGORY_WEIGHTS = (0.30, 0.30, 0.12, 0.12, 0.06, 0.05, 0.05)

BRAND_POST_TEXTS = (
    ("겨울 시즌 세일 시작! 최대 30% 할인 #겨울세일", "Winter sale is on, up to 30% off #wintersale"),
    ("이번 주 신상품을 만나보세요 ✨", "Meet this week's new arrivals ✨"),
    ("매장에서 만나요! 강남점 리뉴얼 오픈", "Our Gangnam store has reopened!"),
    ("댓글 이벤트: 가장 좋아하는 니트를 알려주세요", "Comment and tell us your favourite knit"),
    ("스타일링 팁: 코트 하나로 일주일 코디", "One coat, seven outfits: styling tips"),
)
REVIEW_TITLES = {"positive": ("만족해요", "최고예요", "Love it"), "neutral": ("보통이에요", "그럭저럭", "It's okay"),
                 "negative": ("별로예요", "실망했어요", "Disappointed")}

# Injection-looking strings: valid text that must be stored as text, never executed.
INJECTIONS = (
    "'; drop table raw.crm_customers; --",
    "<script>alert('xss')</script>",
    "Robert'); DROP TABLE students;--",
    "1 OR 1=1",
    "{{7*7}} ${jndi:ldap://example.invalid/a}",
)
