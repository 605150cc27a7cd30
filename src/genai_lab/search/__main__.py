from genai_lab.search.service import main

main()
