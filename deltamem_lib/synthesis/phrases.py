"""Phrase bank of the procedural dialogues (DeltaMem §3.2, step 4).

Placeholders: a change's new values by attribute name (``{city}``, ``{name}``, ``{a_job}``),
its previous values with ``old_`` (``{old_city}``), pronouns of people and pets (``{he}``,
``{his}``, ``{He}``), the user's first name ``{first}``. Every template of an event that
writes a memory entry contains that entry's keywords *literally* (the MLD reward's
lexical-fidelity check, and the episode integrity rule, need them in the user's words);
a test renders every template to check it.

Templates come in three shapes:

* ``single`` — the user says it in one turn;
* ``split`` — ``(teaser, assistant question, detail)``: the fact is spread over two user
  turns with the assistant's follow-up between them;
* ``react`` — the assistant's reply once the user has said it.

Several templates per event are *indirect*: the change is implied ("still unpacking boxes in
the new flat in Leeds") rather than stated ("I moved to Leeds").
"""

from __future__ import annotations

__all__ = [
    "ACKS", "CHITCHAT", "CLOSE_ASSISTANT", "CLOSE_USER", "DISTRACTORS", "DISTRACTOR_PEOPLE", "EVENTS",
    "OPEN_ASSISTANT", "OPEN_USER", "PADDING", "RESTATE",
]

OPEN_USER = [
    "Hi!", "Hey, got a minute?", "Morning!", "Hello again.", "Hey there, it's been a while.",
    "Ugh, what a week.", "Hi, quick question for you.", "Evening! Can I pick your brain?",
    "Hey. Long day, but I'm here.", "Hello hello.", "Hi again — I've got a few things on my mind.",
    "Good morning! Coffee in hand, ready to go.", "Hiya.", "Hey! Sorry, it's been ages.",
    "Hi. Bit of a random one today.", "Okay, I'm back.", "Hey, you around?",
    "Happy Friday! Well, nearly.", "Hi! Rainy Sunday here, so I finally have time to chat.",
    "Hello! I promised myself I'd sort a few things out today.",
]
OPEN_ASSISTANT = [
    "Hi {first}! What's on your mind today?", "Hello! How have you been?",
    "Always. What's up?", "Good to hear from you, {first}. How can I help?",
    "Hey! Take your time — what's going on?", "Hi {first}, I'm here. What shall we start with?",
    "Morning! What are we tackling today?", "Of course. Fire away.",
    "Welcome back! How are things?", "Hello! Sounds like you've got news — go ahead.",
    "Hi! Happy to help with whatever you need.", "Hey {first}! What's new?",
]
CLOSE_USER = [
    "Thanks, that helps a lot.", "Okay, I'll let you know how it goes!", "Cheers, talk soon.",
    "Perfect, that's all for now.", "Great, thank you!", "Right, I'd better get going. Thanks!",
    "Brilliant. Speak later.", "That's really useful, thanks.", "Lovely, thank you so much.",
    "Okay, off I go. Thanks for listening.", "Thanks — you're a star.", "Noted. Bye for now!",
]
CLOSE_ASSISTANT = [
    "Anytime — good luck!", "Glad to help. Talk soon!", "You're welcome. Take care, {first}.",
    "Enjoy the rest of your day!", "Happy to help. See you next time.",
    "Good luck with everything — let me know how it goes.", "Bye for now!",
    "Take care, and come back any time.", "My pleasure. Have a good one!",
]
ACKS = ["Ha, lovely. ", "Good to know! ", "", "Oh nice. ", "That sounds fun. ", "", "Ah, I see. ",
        "Noted! ", "", "Aw. ", "Fair enough! "]

# (request, reply) pairs of small talk and everyday tasks: no facts about the user.
CHITCHAT = [
    ("Any tips for sleeping better? I keep waking up at four.",
     "A fixed wake-up time helps most, even at weekends. Keep the room cool and dark, and skip screens for "
     "the last half hour. If it goes on for weeks, mention it to a doctor."),
    ("Can you suggest a quick dinner I can make in twenty minutes?",
     "A vegetable stir-fry with noodles is hard to beat: soy, garlic, ginger, whatever veg you have, and a "
     "fried egg or tofu on top."),
    ("What's a good podcast for a long drive?",
     "For long drives, story-driven shows work best — a narrative history series or a mystery podcast keeps "
     "you hooked without needing to look at anything."),
    ("Help me word a polite email declining a meeting?",
     "Sure: \"Thanks for the invite — unfortunately I can't make this one. Could you share the notes "
     "afterwards, or shall we find another slot next week?\""),
    ("How do I stop my houseplants dying?",
     "Most houseplants die from too much water. Check the soil with a finger first, water only when the top "
     "few centimetres are dry, and give them bright indirect light."),
    ("Can you recommend a board game for four people?",
     "Ticket to Ride is an easy favourite; if you want something chattier, Codenames works well with four."),
    ("What should I pack for a weekend of hiking?",
     "Layers, a waterproof, good socks, snacks, water, a map or offline app, a small first-aid kit, and a "
     "head torch just in case."),
    ("Is it worth learning touch typing as an adult?",
     "Yes — fifteen minutes a day for a few weeks is usually enough to beat your old speed, and it stays "
     "with you."),
    ("Give me a simple stretching routine for after work?",
     "Try five minutes: neck rolls, shoulder circles, a standing forward fold, a hip flexor lunge each side, "
     "and a gentle spinal twist."),
    ("How long should I boil an egg for a runny yolk?",
     "About six minutes from boiling for a large egg, then straight into cold water."),
    ("Any ideas for a cheap birthday present?",
     "Something personal beats something pricey: a framed photo, a playlist, a homemade voucher for a day "
     "out, or their favourite snacks in a nice box."),
    ("What's a good way to start journaling?",
     "Keep it tiny: three lines a night — one thing that happened, one thing you felt, one thing you're "
     "looking forward to."),
    ("Can you explain compound interest like I'm five?",
     "You earn interest, and then next time you also earn interest on that interest — like a snowball that "
     "picks up more snow as it rolls."),
    ("How do I get better at remembering names?",
     "Say the name back straight away, use it once more in the conversation, and link it to something about "
     "the person."),
    ("Suggest a film for a cosy night in?",
     "Paddington 2 never fails — warm, funny and surprisingly moving."),
    ("How often should I replace my running shoes?",
     "Roughly every 500 to 800 kilometres, or sooner if the cushioning feels flat or your knees start "
     "complaining."),
    ("What's the best way to learn a bit of a new language before a holiday?",
     "Ten minutes a day with an app, plus learning twenty survival phrases out loud — greetings, numbers, "
     "ordering food, asking for directions."),
    ("Can you help me plan a budget for the month?",
     "Start with the fixed costs (rent, bills, transport), set an amount aside for savings first, then split "
     "what's left between food and fun."),
    ("Any tips for a job interview next week?",
     "Prepare three short stories about things you've achieved, research the organisation, and have two "
     "questions ready to ask them."),
    ("How do I get rid of fruit flies in the kitchen?",
     "A small bowl of cider vinegar with a drop of washing-up liquid traps them; and keep the fruit bowl in "
     "the fridge for a few days."),
    ("What's a nice day trip idea for a rainy Saturday?",
     "A museum you've never visited, followed by a long lunch — or an indoor climbing wall if you want "
     "something active."),
    ("Can you recommend a book to read on holiday?",
     "Something absorbing but light: a good mystery or a big warm family saga works well by a pool."),
    ("How do I make my coffee at home taste less bitter?",
     "Use slightly coarser grounds, water just off the boil rather than boiling, and don't let it brew too "
     "long."),
    ("Tips for staying focused when working from home?",
     "Work in 45-minute blocks, keep your phone in another room, and get dressed as if you were going out — "
     "it really helps."),
]

# Other people in the user's life, for distractor facts (never family members the profile has).
DISTRACTOR_PEOPLE = ["my friend", "my colleague", "my neighbour", "my cousin", "my flatmate",
                     "my boss", "my old schoolmate", "my gym buddy"]

# Facts about *other* people: they must not become memories of the user.
DISTRACTORS = {
    "home": ["{person} {name} just moved to {city}, so at least I'll have a sofa to crash on there.",
             "{person} {name} is relocating to {city} for work — I'll miss having them around.",
             "Fun fact: {person} {name} grew up in {city}."],
    "occupation": ["{person} {name} just got a job as {a_job}, and I'm so proud of them.",
                   "{person} {name} is retraining to become {a_job} — brave move."],
    "employer": ["{person} {name} has just started at {company}.",
                 "{person} {name} keeps trying to get me to apply to {company}, where they work."],
    "pet": ["{person} {name} adopted {a_species} called {pet} and sends me photos every day.",
            "{person} {name}'s {species}, {pet}, escaped again this morning, total chaos."],
    "partner": ["{person} {name} got engaged to {name2} last weekend!",
                "{person} {name} is dating someone called {name2} now, apparently."],
    "injury": ["{person} {name} is off work with {a_injury}, poor thing.",
               "{person} {name} managed to get {a_injury} playing five-a-side."],
    "hobby": ["{person} {name} keeps trying to get me into {hobby}, but honestly it's not for me.",
              "{person} {name} is obsessed with {hobby} at the moment."],
    "trip": ["{person} {name} is off to {place} next month — I'm so jealous.",
             "{person} {name} just got back from {place} and won't stop talking about it."],
    "vehicle": ["{person} {name} just bought {a_car} and keeps offering me lifts.",
                "{person} {name} is selling {his} {car} if I know anyone who wants it."],
    "diet": ["{person} {name} has gone {diet}, so dinner plans are getting creative.",
             "{person} {name} is trying to go {diet} this month."],
    "education": ["{person} {name} is starting a {degree} in {field} in the autumn.",
                  "{person} {name} just finished a {degree} in {field}!"],
}

# The user restating something memory already knows (no operation is due).
RESTATE = {
    "home": ["It's pouring in {city} again today, so I'm staying in.",
             "Since the move to {city}, I still haven't found a decent bakery nearby.",
             "The traffic in {city} this morning was unreal."],
    "occupation": ["Long week — being {a_job} is exhausting some weeks.",
                   "Work's been busy; that's the life of {a_job}, I suppose."],
    "employer": ["Things at {company} are hectic with the end of the quarter.",
                 "We had a team lunch at {company} today, which was nice for once."],
    "pet": ["{name} is snoring next to me as I type.", "I had to chase {name} round the garden this "
                                                       "morning."],
    "partner": ["{name} is cooking tonight, thank goodness.", "{name} says hi, by the way."],
    "family": ["My {relation} {name} called last night, we talked for ages.",
               "I'm seeing my {relation} {name} at the weekend."],
    "hobby": ["Got some {hobby} in at the weekend, which always resets my head.",
              "I'm still loving {hobby}, by the way."],
    "vehicle": ["The {car} needs an MOT soon, ugh.", "Took the {car} through the car wash, finally."],
    "cuisine": ["Had {cuisine} food again last night — never gets old."],
    "diet": ["Being {diet} at barbecues is always a bit of a challenge."],
    "best_friend": ["{name} and I are going for brunch on Sunday."],
}

# Hidden profile facts mentioned in passing (padding ADDs). Keywords appear literally.
PADDING = {
    "home": ["Living in {city} has its perks, I have to say."],
    "occupation": ["I'm {a_job}, so my hours are all over the place."],
    "employer": ["My office at {company} is freezing, for the record."],
    "best_friend": ["My best friend {name} is coming over later.",
                    "{name}, my best friend since school, is visiting next week."],
    "partner": ["By the way, I've been dating someone for a while now — {name}. It's going well.",
                "{name} and I have been dating since the spring, by the way."],
    "family": ["My {relation} {name} is visiting this weekend.",
               "I promised my {relation} {name} I'd help them move house.",
               "{name}, my {relation}, just called — we talk every Sunday."],
    "pet": ["I'm typing this with my {species} {name} on my lap.",
            "I need to be home early to feed {name}, my {species}.",
            "My {species} {name} has just knocked a mug off the table."],
    "condition": ["I have {condition}, so I have to plan things a bit more carefully.",
                  "With my {condition}, some weeks are harder than others."],
    "allergy": ["I'm allergic to {allergen}, so I always have to check.",
                "Because I'm allergic to {allergen}, I need to be careful."],
    "diet": ["I'm {diet}, by the way, in case it ever matters.",
             "As someone who's {diet}, I'm used to asking what's in things."],
    "hobby": ["I spent the whole weekend on {hobby} — it's how I switch off.",
              "Honestly, {hobby} is what keeps me sane these days."],
    "habit": ["I've been keeping up my habit of {habit} for a while now.",
              "You know me and my habit of {habit}."],
    "education:studying": ["Between work and my {degree} in {field}, I'm stretched thin.",
                           "I've got a deadline for my {degree} in {field} on Friday, so I'm a bit "
                           "frazzled."],
    "education:done": ["I did my {degree} in {field} at {school}, so I know the area a bit.",
                       "Having {a_degree} in {field} finally came in handy today."],
    "vehicle": ["My {car} is finally back from the garage.",
                "I've been driving my {car} everywhere this week."],
    "trip": ["I'm also planning a trip to {place}, so money's a bit tight."],
    "cuisine": ["{cuisine} is my favourite cuisine — I could eat it every day.",
                "Given the choice I'd pick {cuisine} food every time."],
    "music": ["I had {genre} on all afternoon — it's my favourite music by far."],
    "author": ["My favourite author is {author}, and I'm rereading everything again.",
               "I'm halfway through another {author} novel — my all-time favourite author."],
}

# Events: single-turn variants, split variants (teaser, assistant question, detail), reactions.
EVENTS: dict[str, dict[str, list]] = {
    "move": {
        "single": ["I finally moved to {city}! The flat is tiny but the light is amazing.",
                   "Still surrounded by boxes — we only got the keys to the new place in {city} on Friday.",
                   "So I've left {old_city}. Living in {city} now, and it already feels right.",
                   "Big change: I relocated from {old_city} to {city} last month.",
                   "Since the move to {city}, my commute has been so much shorter."],
        "split": [("Guess who's finally moved house!", "Oh, exciting! Where did you end up?",
                   "{city}! I couldn't face another winter in {old_city}."),
                  ("I did it — I handed back the keys in {old_city}.", "Wow! So where's home now?",
                   "{city}. New city, new everything.")],
        "react": ["{city} is a great place — how are you settling in?",
                  "A move is a big deal. I hope the new place in {city} feels like home soon.",
                  "Congratulations on the move! Found a favourite coffee spot in {city} yet?"],
    },
    "new_job": {
        "single": ["I started at {company} on Monday, same kind of role but a much nicer team.",
                   "I've handed in my notice at {old_company} — I'm joining {company} next month.",
                   "First week at {company} done! Still learning everyone's names.",
                   "My new employer, {company}, has a much shorter commute."],
        "split": [("I've got news on the work front: I'm leaving {old_company}.", "Oh! Where are you headed?",
                   "{company}. Same job title, better people, I hope."),
                  ("I accepted an offer yesterday!", "Congratulations! Who's it with?",
                   "{company} — I start after the holidays.")],
        "react": ["Congratulations on the new job at {company}!",
                  "That's great news — a fresh start at {company}.",
                  "Exciting! New jobs are tiring at first, so go easy on yourself."],
    },
    "career_change": {
        "single": ["I've done something drastic: I left {old_company} and I'm now {a_job} at {company}.",
                   "New chapter — I'm working as {a_job} now, at {company}. No more {old_job} life for me."],
        "split": [("I finally quit being {old_a_job}.", "Wow, that's a big step! What are you doing instead?",
                   "I'm {a_job} now, at {company}. Scary but good.")],
        "react": ["What a change! Going from {old_job} to {job} takes courage.",
                  "Good for you — lots of people dream about switching careers and never do."],
    },
    "promotion": {
        "single": ["I got promoted! I'm officially {a_job} now.",
                   "Guess who's {a_job} as of this week? Me!",
                   "The promotion came through — {job} is my new title."],
        "split": [("I had my review today and it went really well.", "Oh? Tell me more!",
                   "They made me {a_job}! I can't quite believe it.")],
        "react": ["Congratulations, that's well deserved!", "Brilliant news — you've earned it.",
                  "A promotion! Time to celebrate."],
    },
    "new_partner": {
        "single": ["I've been dating someone new, actually — {name}. We met at a friend's party.",
                   "So… I'm seeing someone. {His} name is {name}, and it's going really well.",
                   "{name} and I have been going out for a few weeks now!"],
        "split": [("I have a bit of romantic news.", "Ooh, do tell!",
                   "I'm seeing someone! {name}. We met at a climbing gym, of all places.")],
        "react": ["That's lovely! {name} sounds great.", "How exciting — I'm really happy for you.",
                  "Aw, new relationships are the best. I hope it keeps going well."],
    },
    "breakup": {
        "single": ["{old_name} and I broke up last week. It was mutual, but still sad.",
                   "I'm single again, by the way. It just wasn't working with {old_name}.",
                   "We called it off, {old_name} and me. I'm okay, mostly."],
        "split": [("I've had a rough couple of weeks, honestly.", "I'm sorry to hear that. What happened?",
                   "{old_name} and I split up. It's for the best, I think.")],
        "react": ["I'm sorry — break-ups are hard even when they're right. Be kind to yourself.",
                  "That sounds really tough. I'm here if you want to talk it through."],
    },
    "engagement": {
        "single": ["{name} and I got engaged at the weekend!",
                   "Big news: I'm engaged! {name} proposed on the beach.",
                   "We're engaged — {name} asked me over dinner and I said yes."],
        "split": [("Something happened on holiday…", "Something good, I hope?",
                   "{name} proposed! We're engaged!")],
        "react": ["Congratulations to you both!", "That's wonderful news — congratulations!",
                  "How exciting! Have you started thinking about the wedding?"],
    },
    "wedding": {
        "single": ["{name} and I got married on Saturday! Still on cloud nine.",
                   "We're married! The wedding was small, but perfect — {name} cried during the vows."],
        "split": [("So the big day finally happened.", "The wedding? How was it?",
                   "Perfect. {name} and I are officially married!")],
        "react": ["Congratulations to the newlyweds!", "How wonderful — I hope it was everything you "
                                                       "wanted."],
    },
    "adopt_pet": {
        "single": ["We adopted a {species} from the shelter! {His} name is {name}.",
                   "Meet the newest member of the family: {name}, a very loud {species}.",
                   "I finally got a {species}. {name} has already taken over the sofa."],
        "split": [("We did it, we adopted a {species}!", "That's wonderful! What's their name?",
                   "{name}. {He} is a bit shy but settling in."),
                  ("There's a new furry resident in my flat.", "Ooh, what kind?",
                   "A {species}! I've called {him} {name}.")],
        "react": ["{name} is a great name! Enjoy the new company.", "Congratulations on the new {species}!",
                  "How lovely — the first weeks with a new pet are so much fun."],
    },
    "lose_pet": {
        "single": ["We lost {old_name} last week. {He} was fourteen. The house feels so empty.",
                   "I had to say goodbye to my {old_species}, {old_name}. I'm heartbroken.",
                   "{old_name} went to live with my aunt — the new flat doesn't allow pets."],
        "split": [("Sad news at home, I'm afraid.", "Oh no, what happened?",
                   "My {old_species} {old_name} passed away on Tuesday.")],
        "react": ["I'm so sorry about {old_name}. Losing a pet is losing a family member.",
                  "That's really sad. Give yourself time to grieve."],
    },
    "injury": {
        "single": ["I've got {a_injury}, so I'm hobbling around like an old pirate.",
                   "Went down badly at football — the doctor says it's {a_injury}.",
                   "Typing one-handed-ish today: {injury}, courtesy of an icy pavement."],
        "split": [("I had a bit of an accident on Saturday.", "Oh no! Are you okay?",
                   "Mostly. It's {a_injury}, so I'm out of action for a while.")],
        "react": ["Ouch! Rest up and follow the physio's advice.",
                  "That sounds painful — I hope it heals quickly."],
    },
    "recovery": {
        "single": ["Good news: my {old_injury} has fully healed, and I'm back to normal.",
                   "The physio signed me off today — the {old_injury} is history.",
                   "I'm finally recovered, no more limping around."],
        "split": [("Remember my {old_injury}?", "Of course, how is it?", "All healed! Back to full speed.")],
        "react": ["That's great to hear! Ease back in gently.", "Brilliant — glad you're back on your feet."],
    },
    "take_up_hobby": {
        "single": ["I've taken up {hobby}! Two sessions in and I'm hooked.",
                   "New obsession: {hobby}. I signed up for a beginners' course.",
                   "I've started {hobby} on Thursday evenings, a friend dragged me along and now I love it."],
        "split": [("I've found a new hobby.", "Oh, what is it?",
                   "{hobby}! I'm terrible at it, but it's so much fun.")],
        "react": ["That sounds like a great way to unwind!", "Love that — new hobbies are such a boost.",
                  "Fun! Let me know if you want tips for beginners."],
    },
    "quit_hobby": {
        "single": ["I've given up {old_hobby}, it just stopped being fun.",
                   "No more {old_hobby} for me — I never have the time these days.",
                   "I sold all my gear. That's the end of my {old_hobby} era."],
        "split": [("I've made a decision about my weekends.", "Oh? What's changing?",
                   "I'm done with {old_hobby}. It felt like a chore.")],
        "react": ["Fair enough — hobbies should be fun, not a duty.", "That makes sense. More free time!"],
    },
    "take_up_habit": {
        "single": ["I've started {habit}, and so far I'm sticking to it.",
                   "New routine: {habit}. Three weeks in!",
                   "A friend talked me into {habit}, and weirdly, I like it."],
        "split": [("I've been trying a new routine.", "Oh nice, what is it?",
                   "{habit}. It's hard, but it's working.")],
        "react": ["Good for you — the first few weeks are the hardest.",
                  "Nice! Routines like that really add up."],
    },
    "quit_habit": {
        "single": ["I've stopped {old_habit}. Cold turkey, two weeks ago.",
                   "I'm done with {old_habit} — it wasn't doing me any good.",
                   "I quit, finally. No more {old_habit}."],
        "split": [("I've made a change I'm quite proud of.", "Go on!",
                   "I've stopped {old_habit}. Fourteen days and counting.")],
        "react": ["That's a real achievement, well done.", "Good for you! How are you finding it?"],
    },
    "start_degree": {
        "single": ["I've enrolled in {a_degree} in {field}! Lectures start next week.",
                   "I'm going back to uni — {a_degree} in {field}, part-time, at {school}."],
        "split": [("I've signed up for something big.", "Oh? What is it?",
                   "{a_degree} in {field}, part-time. I must be mad.")],
        "react": ["That's exciting! Studying alongside everything else is tough, but so worth it.",
                  "Good luck with the course — {field} is fascinating."],
    },
    "finish_degree": {
        "single": ["I submitted my last assignment — my {degree} in {field} is done!",
                   "I graduated! {a_degree} in {field}, finally finished.",
                   "Results are in: I passed, so I officially have my {degree} in {field}."],
        "split": [("I had some news this morning.", "Good news?",
                   "The best: I've finished my {degree} in {field}!")],
        "react": ["Congratulations, graduate!", "Amazing — all that hard work paid off."],
    },
    "buy_car": {
        "single": ["I finally bought a car — {a_car}, second-hand but in great nick.",
                   "Traded in the old {old_car} for {a_car}. It feels like a spaceship.",
                   "We picked up the new car today: {a_car}!"],
        "split": [("I've got new wheels!", "Ooh, what did you get?", "{a_car}. I love it already.")],
        "react": ["Congratulations on the new car!", "Nice choice — enjoy the first long drive."],
    },
    "sell_car": {
        "single": ["I sold the {old_car} — I'm going car-free and cycling everywhere.",
                   "The {old_car} is gone, I sold it last week. Public transport from now on.",
                   "No more car for me; the {old_car} was costing a fortune."],
        "split": [("I've done something my dad thinks is crazy.", "Oh? What's that?",
                   "I sold my {old_car}. I don't need a car here.")],
        "react": ["Going car-free is a brave choice — your wallet will thank you.",
                  "Fair enough, especially if you live somewhere with good transport."],
    },
    "change_taste:cuisine": {
        "single": ["Honestly, {cuisine} food is my favourite now — I've gone right off {old_cuisine}.",
                   "I've changed my mind about food: {cuisine} is my new favourite cuisine."],
        "split": [("My food tastes have completely changed.", "Oh really? In what way?",
                   "{cuisine} is my favourite now. I can't get enough of it.")],
        "react": ["{cuisine} is a great choice!", "Tastes change — it's fun finding new favourites."],
    },
    "change_taste:music": {
        "single": ["I've got really into {genre} lately — it's my favourite music now.",
                   "Music update: {genre} has replaced {old_genre} as my favourite."],
        "split": [("My playlists have changed completely.", "Oh? What are you listening to?",
                   "{genre}, constantly. It's my favourite by far now.")],
        "react": ["Nice! Any artists you'd recommend?", "Great choice — {genre} has so much to explore."],
    },
    "change_taste:author": {
        "single": ["I've read everything by {author} this year — {author} is my favourite author now.",
                   "Sorry, {old_author}: my new favourite author is {author}."],
        "split": [("I've found a new favourite author.", "Who is it?",
                   "{author}! I've been devouring the books.")],
        "react": ["Great choice — {author} is wonderful.", "Ooh, which book should I start with?"],
    },
    "change_diet": {
        "single": ["I've gone {diet}. Three weeks in and I feel great.",
                   "Just so you know, I'm {diet} now.",
                   "New year, new diet: I'm {diet} these days."],
        "split": [("I've changed the way I eat.", "Oh? What are you doing now?",
                   "I'm {diet}! It's easier than I expected.")],
        "react": ["Good for you! Let me know if you want recipe ideas.",
                  "That's a big change — how are you finding it?"],
    },
    "plan_trip": {
        "single": ["I'm planning a trip to {place} for next year! Saving like mad.",
                   "We've started planning a trip to {place} — I've got twelve tabs of itineraries open.",
                   "Next big adventure: {place}. I'm planning it all myself."],
        "split": [("I've started planning my next big trip.", "Exciting! Where to?",
                   "{place}! It's been on my list forever.")],
        "react": ["{place} sounds amazing — how long are you going for?", "What a trip to look forward to!"],
    },
    "take_trip": {
        "single": ["I'm just back from {place}! It was even better than I'd hoped.",
                   "{place} was incredible. I already miss it.",
                   "The trip to {place} happened, finally. Jet-lagged but happy."],
        "split": [("I'm back!", "Welcome back! How was the trip?",
                   "{place} was amazing. I want to go back already.")],
        "react": ["Welcome back! What was the highlight?", "That sounds like a wonderful trip."],
    },
    "new_baby": {
        "single": ["Our {relation} {name} was born on Tuesday! We're exhausted and very happy.",
                   "Meet {name}, our {relation}! Arrived two weeks early."],
        "split": [("We have some huge news.", "Tell me!", "Our {relation} is here! {name}, born last week.")],
        "react": ["Congratulations! Welcome to the world, {name}.",
                  "What wonderful news — congratulations to you both!"],
    },
    "cancel_trip": {
        "single": ["The {old_place} trip I told you about is off — work won't give me the time.",
                   "Remember I was planning to go to {old_place}? Not happening anymore, sadly.",
                   "Scrap the {old_place} plans; we cancelled everything."],
        "split": [("Bad news about the holiday.", "Oh no, what happened?",
                   "We had to cancel the trip to {old_place}. Maybe one day.")],
        "react": ["That's a shame — maybe you can rebook later.", "Sorry to hear that. Plans change, sadly."],
    },
    "change_trip": {
        "single": ["Change of plan: we're going to {place} instead of {old_place}.",
                   "The trip I mentioned isn't {old_place} anymore — we're planning a trip to {place} "
                   "instead."],
        "split": [("The holiday plans have changed.", "Oh? Still going somewhere?",
                   "Yes, but {place} now, not {old_place}. Flights were much cheaper.")],
        "react": ["{place} is a great alternative!", "Sounds like a good swap."],
    },
    "retract_hobby": {
        "single": ["Remember I said I'd taken up {old_hobby}? Scratch that — one class was enough.",
                   "I told you I'd started {old_hobby}, but I never actually went back after the first try."],
        "split": [("Confession time.", "Uh-oh. Go on.", "The {old_hobby} thing I mentioned? I gave up after "
                                                        "one go, so it doesn't count.")],
        "react": ["Ha, no shame in that. Not every hobby sticks.", "Fair enough — better to know early!"],
    },
}

# Corrections of earlier statements (inter-event evolution), per fact type.
CORRECTIONS = {
    "home": ["Small correction: I said I live in {old_city}, but technically it's {city} — just outside it.",
             "I think I told you {old_city}; I actually live in {city}. People never know where that is."],
    "occupation": ["Actually, I think I told you I was {old_a_job} — I'm {a_job}. Easy mix-up, we work side "
                   "by side.",
                   "Small correction: I'm not {old_a_job}, I'm {a_job}."],
    "employer": ["Quick correction — I work at {company}, not {old_company}. They share a building.",
                 "I said {old_company} earlier, didn't I? It's {company}, sorry."],
    "pet": ["Oh, I think I called my {species} {old_name} last time — it's {name}! {old_name} was my "
            "childhood {species}.",
            "Correction: my {species} is called {name}, not {old_name}. Autocorrect strikes again."],
    "family": ["By the way, my {relation}'s name is {name}, not {old_name} — I must have typed it wrong.",
               "Oops, earlier I said my {relation} was {old_name}. It's {name}."],
    "best_friend": ["My best friend is {name}, not {old_name} — no idea why I said that.",
                    "Small correction: my best friend's name is {name}."],
    "allergy": ["Correction: it's {allergen} I'm allergic to, not {old_allergen}.",
                "I said {old_allergen} before, but my allergy is actually to {allergen}."],
    "diet": ["I told you I was {old_diet}, but I'm actually {diet}.",
             "To be precise, I'm {diet}, not {old_diet}."],
    "education": ["Small correction: my {degree_kw} is in {field}, not {old_field}.",
                  "I think I said {old_field}; my {degree_kw} is actually in {field}."],
    "vehicle": ["I said I drive {old_a_car}, but it's actually {a_car} — the {old_car} was my dad's.",
                "Correction: my car's {a_car}, not {old_a_car}."],
    "cuisine": ["I think I said {old_cuisine} was my favourite cuisine — honestly, it's {cuisine}.",
                "Correction for the record: {cuisine} is my favourite cuisine, not {old_cuisine}."],
}
CORRECTION_REACT = ["Thanks for clarifying — noted!", "Got it, thanks for setting me straight.",
                    "No problem, I'll remember that.", "Ah, thanks — good to have that right."]
