package prompts_test

import (
	"fmt"

	"github.com/parleyhq/parley/internal/prompts"
)

// An access number with a primary language and secondary ones: the welcome
// in the primary language, then each secondary language offered in itself.
func Example() {
	primary, secondary := prompts.Best("de-AT"), []string{"fr-CA", "en-GB"}
	fmt.Println(prompts.Text(primary, prompts.Welcome))
	for i, lang := range secondary {
		fmt.Printf(prompts.Text(lang, prompts.LanguageOption)+"\n", fmt.Sprint(i+2))
		pcm, err := prompts.Compose(lang, prompts.LanguageOption, fmt.Sprint(i+2))
		if err != nil || len(pcm) < prompts.Rate {
			fmt.Println("no audio:", err)
		}
	}
	// Output:
	// Willkommen beim Konferenzdienst.
	// Pour le français canadien, faites le 2.
	// For British English, press 3.
}

func ExampleBest() {
	fmt.Println(prompts.Best("es-MX"))
	fmt.Println(prompts.Best("zh-Hant-HK"))
	fmt.Println(prompts.Best("sv-SE", "pt-PT"))
	fmt.Println(prompts.Best("sv-SE"))
	// Output:
	// es-US
	// zh-TW
	// pt-BR
	// en-US
}

func ExampleDigits() {
	clips, err := prompts.Digits("ja-JP", "42#")
	fmt.Println(len(clips), err)
	_, err = prompts.Digits("ja-JP", "4-2")
	fmt.Println(err)
	// Output:
	// 3 <nil>
	// prompts: not a telephone key: '-' at byte 1
}
