package prompts

import "slices"

// Key names one prompt of the catalog. Keys are stable identifiers: the
// attendant and the announcement service play prompts by key, and every
// catalog file is keyed by them, so renaming one means editing all fourteen
// files and regenerating the audio.
type Key string

// The keys of the catalog, in the order of the reference file
// tools/prompts/catalog/en-US.txt, whose lines give the English text.
const (
	// LanguageName is the language's name in itself, for menus and listings.
	LanguageName Key = "language_name"
	// LanguageOption offers the language in itself: "For American English,
	// press %s." Its one placeholder is the digit to press.
	LanguageOption Key = "language_option"

	Welcome             Key = "welcome"
	EnterConferenceID   Key = "enter_conference_id"
	InvalidConferenceID Key = "invalid_conference_id"
	MeetingNotFound     Key = "meeting_not_found"
	TryAgain            Key = "try_again"
	NoInput             Key = "no_input"
	PleaseWait          Key = "please_wait"

	PressStarIfLeader Key = "press_star_if_leader"
	EnterExtension    Key = "enter_extension"
	EnterPIN          Key = "enter_pin"
	// InvalidPIN does not say which of extension and PIN was wrong, so that
	// guessing learns nothing about which extensions exist.
	InvalidPIN Key = "invalid_pin"
	PINLocked  Key = "pin_locked"
	PINExpired Key = "pin_expired"

	EnterPasscode   Key = "enter_passcode"
	InvalidPasscode Key = "invalid_passcode"
	TooManyAttempts Key = "too_many_attempts"

	MeetingLocked    Key = "meeting_locked"
	MeetingFull      Key = "meeting_full"
	MeetingEnded     Key = "meeting_ended"
	WaitingForLeader Key = "waiting_for_leader"
	StillWaiting     Key = "still_waiting"
	Joining          Key = "joining"
	WelcomeBack      Key = "welcome_back"
	// RejoinOffer offers a caller who dropped a moment ago the meeting
	// he was in, with one key (the attendant's fast re-join).
	RejoinOffer        Key = "rejoin_offer"
	RemovedFromMeeting Key = "removed_from_meeting"
	TechnicalProblem   Key = "technical_problem"
	Goodbye            Key = "goodbye"

	// Help lists the keys every caller has (*1, *6); HelpLeader follows it
	// for leaders (*7).
	Help               Key = "help"
	HelpLeader         Key = "help_leader"
	YouAreMuted        Key = "you_are_muted"
	YouAreUnmuted      Key = "you_are_unmuted"
	MutedByPresenter   Key = "muted_by_presenter"
	CannotUnmute       Key = "cannot_unmute"
	MeetingLockedNow   Key = "meeting_locked_now"
	MeetingUnlockedNow Key = "meeting_unlocked_now"
	LeaderOnly         Key = "leader_only"
	InvalidOption      Key = "invalid_option"

	// Digit0 to Digit9, Star and Pound name the telephone keys, for reading
	// numbers back (see Digits) and for filling placeholders.
	Digit0 Key = "digit_0"
	Digit1 Key = "digit_1"
	Digit2 Key = "digit_2"
	Digit3 Key = "digit_3"
	Digit4 Key = "digit_4"
	Digit5 Key = "digit_5"
	Digit6 Key = "digit_6"
	Digit7 Key = "digit_7"
	Digit8 Key = "digit_8"
	Digit9 Key = "digit_9"
	Star   Key = "star"
	Pound  Key = "pound"
)

// allKeys lists the constants above in catalog order. A test holds it equal
// to the keys of the reference file, so the two cannot drift apart.
var allKeys = []Key{
	LanguageName, LanguageOption,
	Welcome, EnterConferenceID, InvalidConferenceID, MeetingNotFound, TryAgain, NoInput, PleaseWait,
	PressStarIfLeader, EnterExtension, EnterPIN, InvalidPIN, PINLocked, PINExpired,
	EnterPasscode, InvalidPasscode, TooManyAttempts,
	MeetingLocked, MeetingFull, MeetingEnded, WaitingForLeader, StillWaiting, Joining, WelcomeBack, RejoinOffer,
	RemovedFromMeeting, TechnicalProblem, Goodbye,
	Help, HelpLeader, YouAreMuted, YouAreUnmuted, MutedByPresenter, CannotUnmute,
	MeetingLockedNow, MeetingUnlockedNow, LeaderOnly, InvalidOption,
	Digit0, Digit1, Digit2, Digit3, Digit4, Digit5, Digit6, Digit7, Digit8, Digit9, Star, Pound,
}

// Keys returns every key of the catalog, in catalog order.
func Keys() []Key { return slices.Clone(allKeys) }

var digitKeys = [10]Key{Digit0, Digit1, Digit2, Digit3, Digit4, Digit5, Digit6, Digit7, Digit8, Digit9}

// keyFor maps a telephone key ('0'-'9', '*', '#') to the prompt that names
// it.
func keyFor(r rune) (Key, bool) {
	switch {
	case r >= '0' && r <= '9':
		return digitKeys[r-'0'], true
	case r == '*':
		return Star, true
	case r == '#':
		return Pound, true
	}
	return "", false
}
